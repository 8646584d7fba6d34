"""Unpacking an uploaded program folder (``.tar.gz``, ``.tgz`` or ``.zip``) safely.

An archive is hostile input. Only regular files and folders are unpacked: every link (symbolic
or hard) and every special file (device, FIFO) is refused, so nothing unpacked can point
outside the target folder. Member paths must be relative and free of ``..``, backslashes,
drive letters and control characters. Counts and sizes are bounded by
``policies/server.yaml`` (``archive``): members and files are counted, and bytes are counted
*while* they are decompressed, so a bomb (a huge sparse or zero-filled member, a header that
lies, a pax record of gigabytes, thousands of tiny entries) fails at the limit instead of
filling the disk or the memory. Files are created with ``O_EXCL | O_NOFOLLOW``, so a
duplicate member cannot overwrite another.

A refusal raises :class:`ArchiveRejected` (a :class:`~engine.errors.ProgramError`) naming the
member and the rule it broke.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Literal

from engine.errors import ProgramError
from engine.server.policy import ArchiveLimits

ArchiveKind = Literal["tar", "zip"]

_SUFFIXES: dict[str, ArchiveKind] = {".tar.gz": "tar", ".tgz": "tar", ".zip": "zip"}
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ArchiveRejected(ProgramError):
    """An uploaded archive broke a rule; ``rule`` names it, ``member`` is the entry at fault.

    Rules: ``not_an_archive``, ``absolute_path``, ``parent_reference``, ``bad_name``,
    ``too_deep``, ``link``, ``special_file``, ``encrypted``, ``duplicate``,
    ``too_many_entries``, ``too_many_files``, ``too_large``, ``empty``.
    """

    problem_slug = "archive-rejected"
    problem_title = "Archive refused"

    def __init__(self, message: str, rule: str, member: str | None = None,
                 archive: str | None = None) -> None:
        self.rule = rule
        self.member = member
        where = f"member {member!r}: " if member is not None else ""
        super().__init__(f"{where}{message} (rule: {rule})", archive)

    def problem_details(self) -> dict[str, Any]:
        return {**super().problem_details(), "rule": self.rule, "member": self.member}


def archive_kind(filename: str) -> ArchiveKind | None:
    """``"tar"`` or ``"zip"`` by the file name's suffix; ``None`` if it is not an archive."""
    lower = filename.lower()
    for suffix, kind in _SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    return None


def unpack(data: IO[bytes], kind: ArchiveKind, target: Path, limits: ArchiveLimits,
           archive_name: str = "archive") -> Path:
    """Unpack ``data`` into the empty folder ``target``; return the program's folder.

    That is the single top-level folder when the archive holds nothing else (an archive of
    ``hello_world/`` gives ``target/hello_world``, so the loader sees the folder's own name),
    and ``target`` itself otherwise.
    """
    unpacker = _Unpacker(target, limits, archive_name)
    if kind == "tar":
        unpacker.tar(data)
    else:
        unpacker.zip(data)
    entries = list(target.iterdir())
    if not entries:
        raise ArchiveRejected("the archive holds no files", "empty", archive=archive_name)
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return target


class _BoundedReader:
    """A file-like reader that refuses to hand out more than ``limit`` bytes in all."""

    def __init__(self, raw: IO[bytes], limit: int, archive: str) -> None:
        self.raw = raw
        self.limit = limit
        self.archive = archive
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.limit - self.consumed + 1
        if self.consumed + size > self.limit:
            # Read at most one byte past the limit, to tell a full archive from an over-long one.
            size = self.limit - self.consumed + 1
        chunk = self.raw.read(size)
        self.consumed += len(chunk)
        if self.consumed > self.limit:
            raise ArchiveRejected(
                f"decompresses to more than {self.limit} bytes (archive.max_stream_bytes)",
                "too_large", archive=self.archive,
            )
        return chunk


class _Unpacker:
    def __init__(self, target: Path, limits: ArchiveLimits, archive: str) -> None:
        self.target = target
        self.limits = limits
        self.archive = archive
        self.entries = 0
        self.files = 0
        self.total = 0

    # --- the two formats ---------------------------------------------------------------------

    def tar(self, data: IO[bytes]) -> None:
        stream = _BoundedReader(gzip.GzipFile(fileobj=data, mode="rb"),  # type: ignore[arg-type]
                                self.limits.max_stream_bytes, self.archive)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    self._tar_member(tar, member)
        except ArchiveRejected:
            raise
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            raise ArchiveRejected(f"not a readable gzip-compressed tar archive ({exc})",
                                  "not_an_archive", archive=self.archive) from None

    def _tar_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self._count_entry(member.name)
        if member.issym() or member.islnk():
            raise self._refuse(member.name, "links are not allowed in an uploaded archive",
                               "link")
        if not (member.isdir() or member.isreg()):
            raise self._refuse(member.name, "only regular files and folders may be unpacked",
                               "special_file")
        parts = self._parts(member.name, is_dir=member.isdir())
        if member.isdir():
            self._folder(parts, member.name)
            return
        source = tar.extractfile(member)
        if source is None:  # pragma: no cover - isreg() members always have data
            raise self._refuse(member.name, "has no data", "special_file")
        self._file(parts, member.name, member.size, source)

    def zip(self, data: IO[bytes]) -> None:
        try:
            archive = zipfile.ZipFile(data)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ArchiveRejected(f"not a readable zip archive ({exc})", "not_an_archive",
                                  archive=self.archive) from None
        with archive:
            infos = archive.infolist()
            if len(infos) > self.limits.max_entries:
                raise ArchiveRejected(
                    f"has {len(infos)} members, more than {self.limits.max_entries} "
                    "(archive.max_entries)", "too_many_entries", archive=self.archive)
            for info in infos:
                self._zip_member(archive, info)

    def _zip_member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        name = info.filename
        self._count_entry(name)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise self._refuse(name, "links are not allowed in an uploaded archive", "link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise self._refuse(name, "only regular files and folders may be unpacked",
                               "special_file")
        if info.flag_bits & 0x1:
            raise self._refuse(name, "encrypted members cannot be reviewed", "encrypted")
        parts = self._parts(name, is_dir=info.is_dir())
        if info.is_dir():
            self._folder(parts, name)
            return
        try:
            with archive.open(info) as source:
                self._file(parts, name, info.file_size, source)
        except ArchiveRejected:
            raise
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError) as exc:
            raise self._refuse(name, f"cannot be read ({exc})", "not_an_archive") from None

    # --- rules ---------------------------------------------------------------------------------

    def _refuse(self, member: str, message: str, rule: str) -> ArchiveRejected:
        return ArchiveRejected(message, rule, member=member[:200], archive=self.archive)

    def _count_entry(self, name: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise self._refuse(name, f"more than {self.limits.max_entries} members "
                               "(archive.max_entries)", "too_many_entries")

    def _parts(self, name: str, *, is_dir: bool) -> list[str]:
        limits = self.limits
        if len(name) > limits.max_name_length:
            raise self._refuse(name, f"path longer than {limits.max_name_length} characters "
                               "(archive.max_name_length)", "bad_name")
        if _CONTROL.search(name):
            raise self._refuse(name, "path contains control characters", "bad_name")
        if "\\" in name:
            raise self._refuse(name, "path contains a backslash", "bad_name")
        if name.startswith("/") or _DRIVE.match(name):
            raise self._refuse(name, "absolute paths are not allowed", "absolute_path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self._refuse(name, "'..' may not appear in a path", "parent_reference")
        folders = len(parts) if is_dir else len(parts) - 1
        if folders > limits.max_depth:
            raise self._refuse(name, f"more than {limits.max_depth} folder levels "
                               "(archive.max_depth)", "too_deep")
        return parts

    # --- writing -------------------------------------------------------------------------------

    def _folder(self, parts: list[str], name: str) -> Path:
        path = self.target
        for part in parts:
            path = path / part
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                if path.is_symlink() or not path.is_dir():
                    raise self._refuse(name, "a file and a folder share this path",
                                       "duplicate") from None
            except NotADirectoryError:
                raise self._refuse(name, "a file and a folder share this path",
                                   "duplicate") from None
        return path

    def _file(self, parts: list[str], name: str, declared: int, source: IO[bytes]) -> None:
        limits = self.limits
        if not parts:
            raise self._refuse(name, "a file needs a name", "bad_name")
        self.files += 1
        if self.files > limits.max_files:
            raise self._refuse(name, f"more than {limits.max_files} files "
                               "(archive.max_files)", "too_many_files")
        if self.total + max(declared, 0) > limits.max_total_bytes:
            raise self._too_large(name)
        folder = self._folder(parts[:-1], name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(folder / parts[-1], flags, 0o600)
        except (FileExistsError, IsADirectoryError):
            raise self._refuse(name, "the archive holds this path twice", "duplicate") from None
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                self.total += len(chunk)
                if self.total > limits.max_total_bytes:
                    raise self._too_large(name)
                out.write(chunk)

    def _too_large(self, name: str) -> ArchiveRejected:
        return self._refuse(name, f"files add up to more than {self.limits.max_total_bytes} "
                            "bytes (archive.max_total_bytes)", "too_large")
