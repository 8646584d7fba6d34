"""No server path in what the daemon says: paths in messages rewritten to what is safe to show.

Error messages and tracebacks name files: an upload's temporary staging folder, the engine's
own modules, the Python installation, the state folder. Those tell a client how the server
is laid out, so every absolute path in a problem document and in a job's error is rewritten:

- a file of the upload: the name the client gave it (``packed/packed.json``);
- a file of the program inside the sandbox (``/program/...``): its name in the program;
- an installed package or the standard library: ``<site-packages>/qiskit/...``,
  ``<python>/json/decoder.py``; the engine's own modules: ``<engine>/sandbox/runner.py``;
- under a known root of this host (the state folder, the policies, the temporary folder,
  the Python prefix, the user's home): ``<home>/...``, ``<policies>/...``, ``<tmp>/...``.

Other absolute paths (``/v1/jobs/...`` in a "no such resource" message) stay as they are.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import engine
from engine.sandbox.images import PROGRAM_DIR

#: A path: starts with "/" not inside a word, runs to a blank, a quote, a bracket, ":" or ",".
_PATH = re.compile(r"""(?<![\w.~<>%/-])/[^\s"'`<>()\[\]{},;:|]+""")
_UPLOAD = re.compile(r"^(?:/[^/]+)*?/program-engine-upload-[^/]+(?:/unpacked)?(?:/(.*))?$")
_PACKAGES = re.compile(r"^(?:/[^/]+)*/(?:site|dist)-packages(?:/(.*))?$")
_ENGINE = re.compile(r"^(?:/[^/]+)*/engine/((?:[\w.-]+/)*[\w.-]+\.py[cw]?)$")
_STDLIB = re.compile(r"^(?:/[^/]+)*/lib/python3(?:\.\d+)?(?:/(.*))?$")
_ENGINE_DIR = Path(engine.__file__).resolve().parent
_MAX_DEPTH = 32


@functools.lru_cache(maxsize=1)
def _roots() -> tuple[tuple[str, str], ...]:
    """This host's folders to hide, longest first, with the label each becomes."""
    from engine.policy_files import policy_dir
    from engine.settings import get_settings

    candidates: list[tuple[Path | str, str]] = [
        (_ENGINE_DIR, "<engine>"), (_ENGINE_DIR.parent, "<engine-root>"),
        (policy_dir(), "<policies>"), (sys.prefix, "<python>"), (sys.base_prefix, "<python>"),
        (tempfile.gettempdir(), "<tmp>"), ("/tmp", "<tmp>"), (Path.home(), "<user-home>"),
    ]
    with contextlib.suppress(Exception):  # invalid settings: the other roots still apply
        candidates.append((get_settings().home, "<home>"))
    roots: dict[str, str] = {}
    for path, label in candidates:
        text = str(Path(path).resolve()) if str(path) != "/" else ""
        if len(text) > 1:
            roots.setdefault(text, label)
    return tuple(sorted(roots.items(), key=lambda item: -len(item[0])))


def _rewrite(match: re.Match[str]) -> str:
    path = match.group(0)
    upload = _UPLOAD.match(path)
    if upload:
        return upload.group(1) or "<upload>"
    if path.startswith(PROGRAM_DIR + "/"):
        return path[len(PROGRAM_DIR) + 1:]
    for pattern, label in ((_PACKAGES, "<site-packages>"), (_ENGINE, "<engine>"),
                           (_STDLIB, "<python>")):
        found = pattern.match(path)
        if found:
            rest = found.group(1)
            return f"{label}/{rest}" if rest else label
    for root, label in _roots():
        if path == root or path.startswith(root + "/"):
            return label + path[len(root):]
    return path


def redact_paths(text: str) -> str:
    """``text`` with every server path rewritten (see the module's description)."""
    if "/" not in text:
        return text
    return _PATH.sub(_rewrite, text)


def redact_value(value: Any, depth: int = 0) -> Any:
    """:func:`redact_paths` applied to every string in a JSON-like value."""
    if isinstance(value, str):
        return redact_paths(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: redact_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item, depth + 1) for item in value]
    return value
