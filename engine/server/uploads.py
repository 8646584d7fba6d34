"""Staging an uploaded program on disk, for :meth:`RuntimeService.upload_program`.

The service takes a path: a ``NAME.py`` file or a program folder. An upload is one file: a
``.py`` file (written under its own name, which must be a module name), or a folder archive
(unpacked by :mod:`engine.server.archives`). Both land in a fresh private temporary folder
that is removed afterwards. The client's file name is reduced to its last component and
checked, so it can never choose where anything is written.

Metadata from a form field is handed to the service as bytes, which it always parses as JSON
text: a string could be taken for a file path on the server.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from engine.errors import MetadataError, ProgramError
from engine.server.archives import archive_kind, unpack
from engine.server.policy import ArchiveLimits

_MODULE_FILE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\.py")
_COPY_CHUNK = 1024 * 1024


def client_filename(name: str | None) -> str:
    """The last component of a client-sent file name (``a/b\\c.py`` -> ``c.py``)."""
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()


@contextmanager
def staged_program(data: IO[bytes], filename: str | None, limits: ArchiveLimits) -> Iterator[Path]:
    """The uploaded program on disk: a ``.py`` file or a folder, removed after the block."""
    name = client_filename(filename)
    kind = archive_kind(name)
    if kind is None and not name.endswith(".py"):
        raise ProgramError(
            "an upload is a NAME.py file or a folder archive (.tar.gz, .tgz or .zip)",
            name or "<no file name>",
        )
    if kind is None and not _MODULE_FILE.fullmatch(name):
        raise ProgramError(
            "the file name must be a Python module name followed by .py "
            "(letters, digits and _, not starting with a digit)", name[:120],
        )
    workdir = Path(tempfile.mkdtemp(prefix="program-engine-upload-"))
    try:
        if kind is None:
            path = workdir / name
            with path.open("xb") as out:
                shutil.copyfileobj(data, out, _COPY_CHUNK)
            yield path
        else:
            target = workdir / "unpacked"
            target.mkdir(mode=0o700)
            yield unpack(data, kind, target, limits, name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def metadata_bytes(text: str | None) -> bytes | None:
    """Form-field metadata as JSON bytes for the service (``None`` when absent or blank)."""
    if text is None or not text.strip():
        return None
    return text.encode("utf-8")


def spec_field(text: str | None) -> dict[str, Any] | None:
    """The ``spec`` form field of an update: a JSON object, or ``None``."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"spec: not valid JSON ({exc})", [("spec", str(exc))]) from None
    except RecursionError:
        raise MetadataError("spec: nested too deeply", [("spec", "nested too deeply")]) from None
    if not isinstance(value, dict):
        raise MetadataError("spec: must be a JSON object", [("spec", "must be a JSON object")])
    return value


def number_field(name: str, text: str | None) -> int | float | None:
    """A numeric form field as the JSON number it spells (``100`` stays an int)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetadataError(f"{name}: must be a number", [(name, "must be a number")])
    return value
