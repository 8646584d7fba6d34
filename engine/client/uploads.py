"""What an upload sends: a program's file, folder or source and its metadata, as multipart."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine import errors
from engine.errors import EngineError, ProgramError


def _program_parts(data: Any, metadata: Any, *, required: bool
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """The multipart ``files`` and form fields of an upload of ``data`` with ``metadata``."""
    from engine.loader import looks_like_path

    files: dict[str, Any] = {}
    if looks_like_path(data):
        path = Path(str(data).strip()).expanduser()
        if path.is_dir():
            files["file"] = (f"{path.name}.tar.gz", _pack_folder(path), "application/gzip")
        elif path.is_file():
            files["file"] = (path.name, path.read_bytes(), "text/x-python")
            beside = path.with_suffix(".json")
            if metadata is None and beside.is_file():
                metadata = beside
        elif not path.exists():
            raise ProgramError("no such file or folder", str(path))
        else:
            raise ProgramError("a program is a NAME.py file or a folder", str(path))
    elif isinstance(data, (str, bytes, bytearray)):
        text = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        files["source"] = ("source.py", text, "text/x-python")
    elif data is not None or required:
        raise EngineError(
            f"data must be a path or the program's source text, not {type(data).__name__}"
        )
    form: dict[str, str] = {}
    if metadata is not None:
        form["metadata"] = json.dumps(_metadata_object(metadata))
    return files, form


def _metadata_object(metadata: Any) -> dict[str, Any]:
    """Metadata given as a dict, JSON text, bytes, a path or a ProgramMetadata, as a dict."""
    from engine.metadata import ProgramMetadata

    if isinstance(metadata, ProgramMetadata):
        return metadata.to_dict()
    if isinstance(metadata, Mapping):
        return dict(metadata)
    if isinstance(metadata, (bytes, bytearray)):
        text = bytes(metadata).decode("utf-8")
    elif isinstance(metadata, os.PathLike) or (
        isinstance(metadata, str) and not metadata.lstrip().startswith(("{", "["))
    ):
        from engine.metadata import load_metadata

        return load_metadata(metadata).to_dict()  # reads and checks the local file
    elif isinstance(metadata, str):
        text = metadata
    else:
        raise errors.MetadataError(
            f"metadata must be a mapping, JSON text or a file path, not "
            f"{type(metadata).__name__}"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.MetadataError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise errors.MetadataError("metadata must be a JSON object")
    return value


def _pack_folder(folder: Path) -> bytes:
    """``folder`` as an in-memory ``.tar.gz`` of regular files under the folder's name.

    Symlinks are followed to regular files inside the folder (as the loader does); the
    loader's ignored names (``__pycache__``, ``.git``, ...) are left out.
    """
    from engine.loader import program_policy

    ignored = program_policy().ignored_names
    root = folder.resolve()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for current, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in ignored
                                 and not (Path(current) / d).is_symlink())
            for filename in sorted(filenames):
                if filename in ignored:
                    continue
                path = Path(current) / filename
                real = path.resolve()
                if not real.is_file() or root not in real.parents:
                    raise ProgramError("only regular files inside the program folder can be "
                                       "uploaded", str(path))
                relative = path.relative_to(folder).as_posix()
                info = tarfile.TarInfo(f"{folder.name}/{relative}")
                content = real.read_bytes()
                info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
