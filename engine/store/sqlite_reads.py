"""The listings of a SQLite store, read with the standard library's :mod:`sqlite3` alone.

``program-engine jobs list``, ``jobs show`` and ``programs list`` run as a fresh process
each; importing SQLAlchemy's ORM alone takes most of the half second they may start in.
:class:`SQLiteReads` answers the reads they make on a read-only connection (``mode=ro``):
no migration, no write, no pool. It returns the records the service returns to the same
user (:meth:`RuntimeService.jobs`, :meth:`~RuntimeService.job_record` and
:meth:`~RuntimeService.programs`): the same filters, order and paging as
:mod:`engine.store.job_queries` and :mod:`engine.store.program_queries`, the same
visibility (a user sees their own jobs, their own programs and the public ones, each with
its current version whatever its review state; an admin sees everything), and the same
values (UTC datetimes, decoded JSON columns, booleans).

:meth:`SQLiteReads.open` answers ``None`` for a store it must not read this way: a missing
file, or a schema other than :data:`~engine.store.location.HEAD_REVISION` (the service would
migrate it first). Whether the service would first end the jobs of a dead engine process
is the caller's to judge, from :meth:`SQLiteReads.running_claimers`. A test holds these
reads equal to the service's on a store of several users, versions and review states.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.records import JobRecord, JobStatus, ProgramRecord, ProgramVersionRecord
from engine.store.location import HEAD_REVISION
from engine.store.repository import check_aware, check_page, decode_json

_JOB_COLUMNS = tuple(field.name for field in fields(JobRecord))
_JOB_TIMES = ("created_at", "started_at", "ended_at", "heartbeat_at")
_JOBS = f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs"
_PROGRAMS = (
    "SELECT p.id, p.name, p.owner, p.is_public, p.created_at, p.updated_at, "
    "p.current_version, v.program_id, v.version, v.metadata, v.source_hash, v.entry, "
    "v.created_at, v.review_status, v.uploader "
    "FROM programs AS p JOIN program_versions AS v "
    "ON v.program_id = p.id AND v.version = p.current_version"
)
_NO_LIMIT = -1  # SQLite's LIMIT for "all rows", as SQLAlchemy renders an offset alone


class SQLiteReads:
    """Jobs and programs as ``user`` sees them, from one snapshot of a SQLite store.

    Open with :meth:`open`; close with :meth:`close` (or use it as a context manager).
    Every read sees the same snapshot, taken when the store was opened.
    """

    def __init__(self, connection: sqlite3.Connection, user: str, *, is_admin: bool = False
                 ) -> None:
        self._connection = connection
        self.user = user
        self.is_admin = is_admin

    @classmethod
    def open(cls, path: Path, user: str, *, is_admin: bool = False) -> SQLiteReads | None:
        """The store at ``path`` read-only, or ``None`` when it is missing or its schema is
        not the newest revision. Raises :class:`sqlite3.Error` for a file SQLite cannot read
        (or not at once: a busy store).
        """
        if not path.is_file():
            return None
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        # No busy timeout of its own: a reader of a WAL store is almost never kept waiting,
        # and when it is, the error sends the caller to the service, which waits as the
        # settings say (``database_busy_timeout``).
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0)
        try:
            connection.execute("BEGIN")  # one snapshot for every read that follows
            revisions = [row[0] for row in connection.execute(
                "SELECT version_num FROM alembic_version")]
        except BaseException:
            connection.close()
            raise
        if revisions != [HEAD_REVISION]:
            connection.close()
            return None
        return cls(connection, user, is_admin=is_admin)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> SQLiteReads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- what the service would see first --------------------------------------------------

    def running_claimers(self) -> set[str]:
        """Who holds the RUNNING jobs, every user's: the processes the service checks are
        alive (and whose jobs it ends if not) before it answers anything."""
        rows = self._connection.execute(
            "SELECT DISTINCT claimed_by FROM jobs WHERE status = ? AND claimed_by IS NOT NULL",
            (JobStatus.RUNNING.value,))
        return {row[0] for row in rows}

    # --- the reads -------------------------------------------------------------------------

    def jobs(
        self,
        program_id: str | None = None,
        status: str | JobStatus | None = None,
        limit: int | None = 10,
        skip: int = 0,
        created_after: datetime | None = None,
    ) -> list[JobRecord]:
        """The user's jobs (every user's for an admin), newest first, as
        :meth:`RuntimeService.jobs` filters and pages them."""
        check_page(limit, skip)
        check_aware(created_after, "created_after")
        conditions: list[str] = []
        values: list[Any] = []
        for condition, value in (
            ("owner = ?", None if self.is_admin else self.user),
            ("program_id = ?", program_id),
            ("status = ?", None if status is None else JobStatus(status.upper()).value),
            ("created_at >= ?", None if created_after is None else _stored_time(created_after)),
        ):
            if value is not None:
                conditions.append(condition)
                values.append(value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._connection.execute(
            f"{_JOBS}{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*values, _NO_LIMIT if limit is None else limit, skip))
        return [_job_record(row) for row in rows]

    def job(self, job_id: str) -> JobRecord | None:
        """One job, or ``None`` when there is none the user may see (the service then
        raises ``JobNotFound``: another user's job looks exactly like a missing one)."""
        row = self._connection.execute(f"{_JOBS} WHERE id = ?", (job_id,)).fetchone()
        record = None if row is None else _job_record(row)
        if record is None or not (self.is_admin or record.owner == self.user):
            return None
        return record

    def programs(self, limit: int | None = 20, skip: int = 0) -> list[ProgramRecord]:
        """The programs the user may see (their own and the public ones; every one for an
        admin), newest first, each with its current version, without files."""
        check_page(limit, skip)
        where, values = ("", ()) if self.is_admin else \
            (" WHERE (p.owner = ? OR p.is_public)", (self.user,))
        rows = self._connection.execute(
            f"{_PROGRAMS}{where} ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?",
            (*values, _NO_LIMIT if limit is None else limit, skip))
        return [_program_record(row) for row in rows]


# --- the repositories' conversions, column by column ---------------------------------------


def _time(value: str | None) -> datetime | None:
    """A stored time as SQLAlchemy's SQLite type and ``UTCDateTime`` read it back."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored_time(value: datetime) -> str:
    """A time as ``UTCDateTime`` stores it on SQLite (UTC, fixed-width text, sorting in time
    order), to compare with stored ones."""
    moment = value.astimezone(UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}")


def _job_record(row: tuple[Any, ...]) -> JobRecord:
    values = dict(zip(_JOB_COLUMNS, row, strict=True))
    for name in _JOB_TIMES:
        values[name] = _time(values[name])
    values["status"] = JobStatus(values["status"])
    values["options"] = decode_json(values["options"])
    values["metrics"] = decode_json(values["metrics"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRecord(**values)


def _program_record(row: tuple[Any, ...]) -> ProgramRecord:
    (program_id, name, owner, is_public, created_at, updated_at, current,
     version_program, version, metadata_json, source_hash, entry, version_created_at,
     review_status, uploader) = row
    return ProgramRecord(
        program_id, name, owner, bool(is_public), _time(created_at), _time(updated_at),
        current,
        ProgramVersionRecord(version_program, version, metadata_json, source_hash, entry,
                             _time(version_created_at), None, review_status, uploader),
    )
