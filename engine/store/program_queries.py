"""Queries on programs, their versions and their source files.

The repository only stores and finds; who may see or change a program is decided by the
service, which gets the queries it needs here (``list_visible`` with a user and an admin
flag, ``get`` returning the owner and visibility).

A program is a row in ``programs`` plus one ``program_versions`` row per version and the
version's files. Creating a program writes version 1; :meth:`ProgramRepository.add_version`
writes the next one and makes it current, keeping the old ones. Deleting a program deletes
its versions and files (database cascade) but never its jobs.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, delete, func, insert, or_, select, true, update

from engine.errors import MetadataError, ProgramError
from engine.records import ProgramRecord, ProgramVersionRecord
from engine.store.models import NAME_LENGTH, PATH_LENGTH, Program, ProgramFile, ProgramVersion
from engine.store.repository import (
    Repository,
    check_page,
    check_text,
    encode_json,
    utcnow,
)

_PROGRAMS = cast(Table, Program.__table__)
_VERSIONS = cast(Table, ProgramVersion.__table__)
_FILES = cast(Table, ProgramFile.__table__)

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
SUFFIX_LENGTH = 8
_SLUG_MAX = 60


def new_program_id(name: str) -> str:
    """A fresh id ``<name>-<random suffix>``, the name reduced to ``[a-z0-9-]``.

    The suffix has 8 characters from 36 (about 41 bits), so two uploads of the same name
    do not collide in practice; a collision would fail the insert, not overwrite.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_MAX].strip("-")
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"{slug or 'program'}-{suffix}"


def check_files(files: Mapping[str, bytes], entry: str) -> None:
    """Refuse a file set that cannot be a program: bad paths, or no module for ``entry``.

    Paths are relative POSIX paths without ``.``/``..`` parts; ``entry`` is a dotted module
    name whose ``<entry>.py`` or ``<entry>/__init__.py`` is among the files.
    """
    if not files:
        raise ProgramError("a program needs at least one source file")
    for path, content in files.items():
        _check_path(path)
        if not isinstance(content, bytes):
            raise ProgramError(f"content must be bytes, got {type(content).__name__}", path)
    parts = entry.split(".")
    if not entry or len(entry) > NAME_LENGTH or not all(part.isidentifier() for part in parts):
        raise ProgramError(f"entry {entry!r} is not a module name")
    module = "/".join(parts)
    if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
        raise ProgramError(f"entry module {entry!r} has no file {module}.py among the files")


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path or len(path) > PATH_LENGTH:
        raise ProgramError(f"file path must be 1 to {PATH_LENGTH} characters", str(path)[:80])
    pure = PurePosixPath(path)
    if (
        "\\" in path
        or "\x00" in path
        or pure.is_absolute()
        or path != pure.as_posix()
        or any(part in ("", ".", "..") for part in pure.parts)
    ):
        raise ProgramError("file path must be relative, in POSIX form, without '.' or '..'", path)


class ProgramRepository(Repository):
    """Programs, versions and files in one transaction (see :class:`Database`)."""

    # --- changes -------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        owner: str,
        metadata: dict[str, Any],
        source_hash: str,
        entry: str,
        files: Mapping[str, bytes],
        is_public: bool = False,
        program_id: str | None = None,
    ) -> ProgramRecord:
        """Store a new program with version 1 and its files; return it (without files).

        ``program_id`` defaults to :func:`new_program_id` of ``name``.
        """
        self._require_write("create")
        check_text(name, "name", NAME_LENGTH, MetadataError)
        check_text(owner, "owner", NAME_LENGTH)
        metadata_json = encode_json(metadata, "metadata", MetadataError)
        check_files(files, entry)
        program_id = program_id or new_program_id(name)
        now = utcnow()
        self.session.execute(
            insert(_PROGRAMS).values(
                id=program_id,
                name=name,
                owner=owner,
                is_public=is_public,
                created_at=now,
                updated_at=now,
                current_version=1,
            )
        )
        self._insert_version(program_id, 1, metadata_json, source_hash, entry, files, now)
        return self._require(program_id)

    def add_version(
        self,
        program_id: str,
        *,
        metadata: dict[str, Any],
        source_hash: str,
        entry: str,
        files: Mapping[str, bytes],
        name: str | None = None,
    ) -> ProgramRecord | None:
        """Store the next version and make it current; ``None`` if there is no such program.

        Older versions stay (jobs name the version they ran). ``updated_at`` moves to now,
        and ``name`` (when given) becomes the program's name; the id never changes.
        """
        self._require_write("add_version")
        if name is not None:
            check_text(name, "name", NAME_LENGTH, MetadataError)
        metadata_json = encode_json(metadata, "metadata", MetadataError)
        check_files(files, entry)
        now = utcnow()
        values: dict[str, Any] = {
            "current_version": _PROGRAMS.c.current_version + 1,
            "updated_at": now,
        }
        if name is not None:
            values["name"] = name
        # One UPDATE both numbers the version and locks the program row, so concurrent
        # updates get distinct numbers on every database.
        version = self.session.execute(
            update(_PROGRAMS)
            .where(_PROGRAMS.c.id == program_id)
            .values(**values)
            .returning(_PROGRAMS.c.current_version)
        ).scalar_one_or_none()
        if version is None:
            return None
        self._insert_version(program_id, version, metadata_json, source_hash, entry, files, now)
        return self._require(program_id)

    def set_visibility(self, program_id: str, public: bool) -> bool:
        """Make a program public or private; ``False`` if there is no such program.

        Visibility is not content: ``updated_at`` does not move.
        """
        self._require_write("set_visibility")
        result = self.session.execute(
            update(_PROGRAMS).where(_PROGRAMS.c.id == program_id).values(is_public=public)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, program_id: str) -> bool:
        """Delete a program with its versions and files (not its jobs); ``False`` if absent."""
        self._require_write("delete")
        result = self.session.execute(delete(_PROGRAMS).where(_PROGRAMS.c.id == program_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- reads ---------------------------------------------------------------------------

    def get(self, program_id: str, *, with_files: bool = False) -> ProgramRecord | None:
        """A program with its current version (and that version's files on request)."""
        row = self.session.execute(
            _program_select().where(_PROGRAMS.c.id == program_id)
        ).one_or_none()
        if row is None:
            return None
        files = self._files(program_id, row.current_version) if with_files else None
        return _program_record(row, files)

    def get_version(
        self, program_id: str, version: int, *, with_files: bool = True
    ) -> ProgramVersionRecord | None:
        """One version of a program, with its files unless ``with_files`` is false."""
        row = self.session.execute(
            _version_select().where(
                _VERSIONS.c.program_id == program_id, _VERSIONS.c.version == version
            )
        ).one_or_none()
        if row is None:
            return None
        files = self._files(program_id, version) if with_files else None
        return _version_record(row, files)

    def versions(self, program_id: str) -> list[ProgramVersionRecord]:
        """Every version of a program, oldest first, without files."""
        rows = self.session.execute(
            _version_select()
            .where(_VERSIONS.c.program_id == program_id)
            .order_by(_VERSIONS.c.version)
        )
        return [_version_record(row, None) for row in rows]

    def list_visible(
        self, user: str, *, is_admin: bool = False, limit: int | None = 20, skip: int = 0
    ) -> list[ProgramRecord]:
        """The programs ``user`` may see, newest first: their own and the public ones.

        An admin sees every program. ``limit=None`` means no limit. Files are not loaded.
        """
        check_page(limit, skip)
        query = (
            _program_select()
            .where(_visible_to(user, is_admin))
            .order_by(_PROGRAMS.c.created_at.desc(), _PROGRAMS.c.id.desc())
            .offset(skip)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_program_record(row, None) for row in self.session.execute(query)]

    def owned_named(self, owner: str, name: str) -> list[str]:
        """The ids of ``owner``'s programs called ``name``, oldest first."""
        rows = self.session.execute(
            select(_PROGRAMS.c.id)
            .where(_PROGRAMS.c.owner == owner, _PROGRAMS.c.name == name)
            .order_by(_PROGRAMS.c.created_at, _PROGRAMS.c.id)
        )
        return [row.id for row in rows]

    def count_visible(self, user: str, *, is_admin: bool = False) -> int:
        """How many programs :meth:`list_visible` would page through."""
        query = select(func.count()).select_from(_PROGRAMS).where(_visible_to(user, is_admin))
        return int(self.session.execute(query).scalar_one())

    # --- helpers -------------------------------------------------------------------------

    def _insert_version(
        self,
        program_id: str,
        version: int,
        metadata_json: str,
        source_hash: str,
        entry: str,
        files: Mapping[str, bytes],
        now: Any,
    ) -> None:
        self.session.execute(
            insert(_VERSIONS).values(
                program_id=program_id,
                version=version,
                metadata=metadata_json,
                source_hash=source_hash,
                entry=entry,
                created_at=now,
            )
        )
        self.session.execute(
            insert(_FILES),
            [
                {"program_id": program_id, "version": version, "path": path, "content": data}
                for path, data in sorted(files.items())
            ],
        )

    def _files(self, program_id: str, version: int) -> dict[str, bytes]:
        rows = self.session.execute(
            select(_FILES.c.path, _FILES.c.content)
            .where(_FILES.c.program_id == program_id, _FILES.c.version == version)
            .order_by(_FILES.c.path)
        )
        return {path: bytes(content) for path, content in rows}

    def _require(self, program_id: str) -> ProgramRecord:
        record = self.get(program_id)
        if record is None:  # pragma: no cover - written in this same transaction
            raise LookupError(f"program {program_id!r} vanished inside its own transaction")
        return record


def _visible_to(user: str, is_admin: bool) -> Any:
    if is_admin:
        return true()
    return or_(_PROGRAMS.c.owner == user, _PROGRAMS.c.is_public)


_VERSION_COLUMNS = (
    _VERSIONS.c.program_id,
    _VERSIONS.c.version,
    _VERSIONS.c["metadata"].label("metadata_json"),
    _VERSIONS.c.source_hash,
    _VERSIONS.c.entry,
    _VERSIONS.c.created_at.label("version_created_at"),
    _VERSIONS.c.review_status,
    _VERSIONS.c.uploader,
)


def _program_select() -> Select[Any]:
    return select(
        _PROGRAMS.c.id,
        _PROGRAMS.c.name,
        _PROGRAMS.c.owner,
        _PROGRAMS.c.is_public,
        _PROGRAMS.c.created_at,
        _PROGRAMS.c.updated_at,
        _PROGRAMS.c.current_version,
        *_VERSION_COLUMNS,
    ).join(
        _VERSIONS,
        and_(
            _VERSIONS.c.program_id == _PROGRAMS.c.id,
            _VERSIONS.c.version == _PROGRAMS.c.current_version,
        ),
    )


def _version_select() -> Select[Any]:
    return select(*_VERSION_COLUMNS)


# Records are built by position (the column order of the selects above): a listing of
# thousands of programs spends most of its time here.


def _version_record(values: Sequence[Any], files: dict[str, bytes] | None) -> ProgramVersionRecord:
    program_id, version, metadata_json, source_hash, entry, created_at, status, uploader = values
    return ProgramVersionRecord(
        program_id, version, metadata_json, source_hash, entry, created_at, files, status,
        uploader,
    )


def _program_record(row: Row[Any], files: dict[str, bytes] | None) -> ProgramRecord:
    program_id, name, owner, is_public, created_at, updated_at, current, *version = row
    return ProgramRecord(
        program_id,
        name,
        owner,
        bool(is_public),
        created_at,
        updated_at,
        current,
        _version_record(version, files),
    )
