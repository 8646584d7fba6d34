"""Queries on jobs: the queue, interim messages, final states and crash recovery.

A job is created ``QUEUED``; :meth:`JobRepository.claim_next` moves the oldest eligible one
to ``RUNNING`` for one worker; :meth:`JobRepository.finish` moves it to exactly one final
state (``DONE``, ``ERROR``, ``CANCELLED``), and refuses to move it again. Every method runs
inside the caller's transaction (see :class:`~engine.store.database.Database`), and every
state change is a conditional ``UPDATE`` (``... WHERE status IN (...)``), so two workers,
threads or daemons racing on one job cannot both win.

Interim messages are numbered 1, 2, 3 ... without gaps per job: appending increments
``jobs.message_count`` with ``UPDATE ... RETURNING`` and inserts the message under that
number, so the job's row lock (PostgreSQL) or the database write lock (SQLite) orders
concurrent appends. Messages are accepted only while the job is not final.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Row, Table, delete, func, insert, select, text, update

from engine.errors import ConfigurationError
from engine.records import ACTIVE_STATUSES, JobRecord, JobStatus, Reason
from engine.store.models import ID_LENGTH, NAME_LENGTH, Job, JobMessage
from engine.store.repository import (
    Repository,
    check_aware,
    check_page,
    check_text,
    decode_json,
    encode_json,
    utcnow,
)

_JOBS = cast(Table, Job.__table__)
_MESSAGES = cast(Table, JobMessage.__table__)

_ACTIVE = [status.value for status in ACTIVE_STATUSES]
_ID_ALPHABET = string.ascii_lowercase + string.digits
JOB_ID_LENGTH = 20

# Key of the PostgreSQL advisory lock that serializes queue claims (any fixed 64-bit int).
_CLAIM_LOCK_KEY = 0x656E67696E65  # "engine"


def new_job_id() -> str:
    """A fresh random job id: 20 characters from ``[a-z0-9]`` (about 103 bits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(JOB_ID_LENGTH))


StatusFilter = JobStatus | str | Iterable[JobStatus | str] | None


class Recovery(NamedTuple):
    """What :meth:`JobRepository.recover_after_restart` found.

    ``failed``: RUNNING jobs now ERROR with reason ``engine_restarted``; ``queued``: jobs
    still QUEUED, to be run.
    """

    failed: list[str]
    queued: list[str]


class JobRepository(Repository):
    """Jobs and their interim messages in one transaction (see :class:`Database`)."""

    # --- the queue -----------------------------------------------------------------------

    def create(
        self,
        *,
        program_id: str,
        program_version: int,
        owner: str,
        backend: str,
        inputs: str,
        options: dict[str, Any] | None = None,
        profile: str | None = None,
        job_id: str | None = None,
    ) -> JobRecord:
        """Queue a job; ``inputs`` is the ``RuntimeEncoder`` JSON text of the inputs."""
        self._require_write("create")
        check_text(program_id, "program_id", ID_LENGTH)
        check_text(owner, "owner", NAME_LENGTH)
        check_text(backend, "backend", NAME_LENGTH)
        if profile is not None:
            check_text(profile, "profile", NAME_LENGTH)
        job_id = job_id or new_job_id()
        self.session.execute(
            insert(_JOBS).values(
                id=job_id,
                program_id=program_id,
                program_version=program_version,
                owner=owner,
                status=JobStatus.QUEUED.value,
                backend=backend,
                profile=profile,
                inputs=inputs,
                options=encode_json(options or {}, "options"),
                created_at=utcnow(),
            )
        )
        return self._require(job_id)

    def claim_next(
        self, worker_id: str, *, max_running_per_user: int | None = None
    ) -> JobRecord | None:
        """Take the oldest QUEUED job for ``worker_id`` and mark it RUNNING; ``None`` if none.

        First in, first out by ``created_at``, skipping owners who already have
        ``max_running_per_user`` jobs RUNNING (anywhere, not only on this worker). The pick
        and the flip happen under one lock, so a job is never claimed twice, across threads,
        processes or hosts.
        """
        self._require_write("claim_next")
        check_text(worker_id, "worker_id", NAME_LENGTH)
        if max_running_per_user is not None and max_running_per_user < 1:
            raise ValueError(f"max_running_per_user must be >= 1, got {max_running_per_user}")
        self._serialize_claims()
        query = (
            select(_JOBS.c.id)
            .where(_JOBS.c.status == JobStatus.QUEUED.value)
            .order_by(_JOBS.c.created_at, _JOBS.c.id)
            .limit(1)
            # Rendered as FOR UPDATE OF jobs SKIP LOCKED on PostgreSQL; SQLite has no row
            # locks and ignores it (the write lock of BEGIN IMMEDIATE covers the table).
            .with_for_update(skip_locked=True, of=_JOBS)
        )
        if max_running_per_user is not None:
            busy_owners = (
                select(_JOBS.c.owner)
                .where(_JOBS.c.status == JobStatus.RUNNING.value)
                .group_by(_JOBS.c.owner)
                .having(func.count() >= max_running_per_user)
            )
            query = query.where(_JOBS.c.owner.not_in(busy_owners))
        job_id = self.session.execute(query).scalar_one_or_none()
        if job_id is None:
            return None
        now = utcnow()
        claimed = self.session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                started_at=now,
                heartbeat_at=now,
                claimed_by=worker_id,
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # pragma: no cover
            return None
        return self._require(job_id)

    def _serialize_claims(self) -> None:
        """Make this transaction the only one claiming until it ends: the dialect difference.

        SQLite: nothing to do, because :meth:`Database.write` opened the transaction with
        ``BEGIN IMMEDIATE``, which holds the database's single write lock from the start.
        PostgreSQL: a transaction-scoped advisory lock. ``FOR UPDATE SKIP LOCKED`` alone
        would stop two claimers taking the same row, but not two claimers each counting a
        user below the per-user limit and both starting one of that user's jobs.
        """
        dialect = self.dialect
        if dialect == "sqlite":
            return
        if dialect == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY}
            )
            return
        raise ConfigurationError(f"database dialect {dialect!r} cannot claim jobs safely")

    def heartbeat(self, job_id: str) -> bool | None:
        """Record that a RUNNING job's worker is alive; return whether cancel was requested.

        ``None`` when the job is not RUNNING (final, deleted, or never claimed).
        """
        self._require_write("heartbeat")
        return self.session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.RUNNING.value)
            .values(heartbeat_at=utcnow())
            .returning(_JOBS.c.cancel_requested)
        ).scalar_one_or_none()

    # --- interim messages ----------------------------------------------------------------

    def append_message(self, job_id: str, data: str) -> int | None:
        """Store one interim message; return its seq, or ``None`` if the job is final or gone.

        ``data`` is the encoded message as the sandbox sent it (already validated and
        size-limited by the protocol layer).
        """
        seqs = self.append_messages(job_id, [data])
        return seqs[0] if seqs else None

    def append_logs(self, job_id: str, text: str) -> bool:
        """Add ``text`` to a running job's logs (what it printed so far); ``False`` if the
        job is not running. The sandbox caps the whole; :meth:`finish` writes the final logs."""
        self._require_write("append_logs")
        if not isinstance(text, str):
            raise TypeError(f"logs must be str, got {type(text).__name__}")
        if not text:
            return True
        result = self.session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.RUNNING.value)
            .values(logs=_JOBS.c.logs + text)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def append_messages(self, job_id: str, data: Sequence[str]) -> list[int]:
        """Store several interim messages in order; their seqs, or ``[]`` if the job is final."""
        self._require_write("append_messages")
        if not data:
            return []
        for item in data:
            if not isinstance(item, str):
                raise TypeError(f"an interim message must be str, got {type(item).__name__}")
        last = self.session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status.in_(_ACTIVE))
            .values(message_count=_JOBS.c.message_count + len(data))
            .returning(_JOBS.c.message_count)
        ).scalar_one_or_none()
        if last is None:
            return []
        first = last - len(data) + 1
        now = utcnow()
        seqs = list(range(first, last + 1))
        self.session.execute(
            insert(_MESSAGES),
            [
                {"job_id": job_id, "seq": seq, "data": item, "created_at": now}
                for seq, item in zip(seqs, data, strict=True)
            ],
        )
        return seqs

    def messages(
        self, job_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, str]]:
        """Interim messages with seq greater than ``after_seq``, in order, as ``(seq, data)``."""
        check_page(limit, 0)
        query = (
            select(_MESSAGES.c.seq, _MESSAGES.c.data)
            .where(_MESSAGES.c.job_id == job_id, _MESSAGES.c.seq > after_seq)
            .order_by(_MESSAGES.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        return [(seq, data) for seq, data in self.session.execute(query)]

    # --- the end of a job ----------------------------------------------------------------

    def finish(
        self,
        job_id: str,
        status: JobStatus | str,
        *,
        reason: str | None = None,
        result: str | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
        error_traceback: str | None = None,
        logs: str | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> bool:
        """Move a job to its final ``status``; ``False`` if it was already final or is gone.

        Only the first call for a job wins, so a job has exactly one final state. ``result``
        is the encoded result text. ``logs`` and ``metrics`` replace the stored ones when
        given (``logs`` is already capped by the sandbox). ``error_type`` comes from the
        sandbox and is cut to the column's 200 characters rather than fail the update.
        """
        self._require_write("finish")
        status = JobStatus(status)
        if not status.is_final:
            raise ValueError(f"finish needs a final status (DONE, ERROR, CANCELLED), got {status}")
        if reason is not None:
            check_text(reason, "reason", NAME_LENGTH)
        values: dict[str, Any] = {
            "status": status.value,
            "reason": reason,
            "ended_at": utcnow(),
            "result": result,
            "error_type": None if error_type is None else error_type[:NAME_LENGTH],
            "error_message": error_message,
            "error_traceback": error_traceback,
        }
        if logs is not None:
            values["logs"] = logs
        if metrics is not None:
            values["metrics"] = encode_json(metrics, "metrics")
        changed = self.session.execute(
            update(_JOBS).where(_JOBS.c.id == job_id, _JOBS.c.status.in_(_ACTIVE)).values(**values)
        )
        return changed.rowcount == 1  # type: ignore[attr-defined]

    def request_cancel(self, job_id: str, *, reason: str = Reason.USER) -> JobRecord | None:
        """Ask for a job to stop; return the job afterwards, ``None`` if there is none.

        A QUEUED job becomes CANCELLED at once, with ``reason``. A RUNNING job gets
        ``cancel_requested``; the worker holding it stops the sandbox and calls
        :meth:`finish`. A final job is left as it is.
        """
        self._require_write("request_cancel")
        cancelled = self.session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.CANCELLED.value,
                reason=reason,
                ended_at=utcnow(),
                cancel_requested=True,
            )
        )
        if cancelled.rowcount == 0:  # type: ignore[attr-defined]
            self.session.execute(
                update(_JOBS)
                .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.RUNNING.value)
                .values(cancel_requested=True)
            )
        return self.get(job_id)

    def cancel_queued(self, program_id: str) -> list[str]:
        """Cancel every QUEUED job of a program (its source is going); return their ids."""
        queued = self.list(program_id=program_id, status=JobStatus.QUEUED, limit=None)
        for job in queued:
            self.request_cancel(job.id)
        return [job.id for job in queued]

    def delete(self, job_id: str) -> bool:
        """Delete a job and its interim messages; ``False`` if there is no such job."""
        self._require_write("delete")
        result = self.session.execute(delete(_JOBS).where(_JOBS.c.id == job_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def recover_after_restart(self, *, claimed_by: str | None = None) -> Recovery:
        """End RUNNING jobs as ERROR/``engine_restarted`` and list the QUEUED ones.

        Called when a service opens a store after its previous process died. ``claimed_by``
        limits the recovery to jobs held by that worker (one host of several sharing the
        database); ``None`` recovers every RUNNING job. QUEUED jobs are left queued, oldest
        first, for the executor to run.
        """
        self._require_write("recover_after_restart")
        stale = update(_JOBS).where(_JOBS.c.status == JobStatus.RUNNING.value)
        if claimed_by is not None:
            stale = stale.where(_JOBS.c.claimed_by == claimed_by)
        failed = self.session.execute(
            stale.values(
                status=JobStatus.ERROR.value,
                reason=Reason.ENGINE_RESTARTED,
                ended_at=utcnow(),
                error_message="the engine stopped while the job was running",
            ).returning(_JOBS.c.id)
        ).scalars()
        queued = self.session.execute(
            select(_JOBS.c.id)
            .where(_JOBS.c.status == JobStatus.QUEUED.value)
            .order_by(_JOBS.c.created_at, _JOBS.c.id)
        ).scalars()
        return Recovery(failed=sorted(failed), queued=list(queued))

    # --- reads ---------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        """One job, or ``None``."""
        row = self.session.execute(select(_JOBS).where(_JOBS.c.id == job_id)).one_or_none()
        return None if row is None else _job_record(row)

    def list(
        self,
        *,
        owner: str | None = None,
        program_id: str | None = None,
        status: StatusFilter = None,
        created_after: datetime | None = None,
        claimed_by: str | None = None,
        limit: int | None = 10,
        skip: int = 0,
    ) -> list[JobRecord]:
        """Jobs newest first, filtered by every argument that is not ``None``.

        ``owner=None`` means every user's jobs (the service passes the caller unless they are
        an admin). ``status`` is one status or several; ``created_after`` keeps jobs created
        at or after that (timezone-aware) time.
        """
        check_page(limit, skip)
        query = (
            select(_JOBS)
            .where(*_filters(owner, program_id, status, created_after, claimed_by))
            .order_by(_JOBS.c.created_at.desc(), _JOBS.c.id.desc())
            .offset(skip)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_job_record(row) for row in self.session.execute(query)]

    def count(
        self,
        *,
        owner: str | None = None,
        program_id: str | None = None,
        status: StatusFilter = None,
        created_after: datetime | None = None,
        claimed_by: str | None = None,
    ) -> int:
        """How many jobs :meth:`list` would page through with the same filters."""
        query = (
            select(func.count())
            .select_from(_JOBS)
            .where(*_filters(owner, program_id, status, created_after, claimed_by))
        )
        return int(self.session.execute(query).scalar_one())

    def counts(self) -> dict[tuple[JobStatus, str | None], int]:
        """The number of jobs per ``(status, reason)`` (for metrics)."""
        rows = self.session.execute(
            select(_JOBS.c.status, _JOBS.c.reason, func.count()).group_by(
                _JOBS.c.status, _JOBS.c.reason
            )
        )
        return {(JobStatus(status), reason): int(n) for status, reason, n in rows}

    def ended_since(self, after: datetime, *, limit: int | None = None) -> list[JobTiming]:
        """Jobs that reached their final state after ``after``, in the order they ended."""
        check_aware(after, "after")
        check_page(limit, 0)
        query = (
            select(_JOBS.c.id, _JOBS.c.status, _JOBS.c.reason, _JOBS.c.started_at,
                   _JOBS.c.ended_at, _JOBS.c.metrics)
            .where(_JOBS.c.ended_at > after)
            .order_by(_JOBS.c.ended_at, _JOBS.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [
            JobTiming(job_id, JobStatus(status), reason, started, ended, decode_json(metrics))
            for job_id, status, reason, started, ended, metrics in self.session.execute(query)
        ]

    def count_by_status(self) -> dict[JobStatus, int]:
        """The number of jobs in each status, every status present (zero included)."""
        totals = dict.fromkeys(JobStatus, 0)
        for (status, _reason), n in self.counts().items():
            totals[status] += n
        return totals

    def _require(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record is None:  # pragma: no cover - written in this same transaction
            raise LookupError(f"job {job_id!r} vanished inside its own transaction")
        return record


class JobTiming(NamedTuple):
    """When a finished job started and ended, and its metrics (for the daemon's metrics)."""

    id: str
    status: JobStatus
    reason: str | None
    started_at: datetime | None
    ended_at: datetime
    metrics: dict[str, Any]


def _statuses(status: StatusFilter) -> list[str] | None:
    if status is None:
        return None
    if isinstance(status, str):
        return [JobStatus(status).value]
    return [JobStatus(item).value for item in status]


def _filters(
    owner: str | None,
    program_id: str | None,
    status: StatusFilter,
    created_after: datetime | None,
    claimed_by: str | None,
) -> list[ColumnElement[bool]]:
    check_aware(created_after, "created_after")
    conditions: list[ColumnElement[bool]] = []
    if owner is not None:
        conditions.append(_JOBS.c.owner == owner)
    if program_id is not None:
        conditions.append(_JOBS.c.program_id == program_id)
    statuses = _statuses(status)
    if statuses is not None:
        conditions.append(_JOBS.c.status.in_(statuses))
    if created_after is not None:
        conditions.append(_JOBS.c.created_at >= created_after)
    if claimed_by is not None:
        conditions.append(_JOBS.c.claimed_by == claimed_by)
    return conditions


def _job_record(row: Row[Any]) -> JobRecord:
    values = dict(row._mapping)
    values["status"] = JobStatus(values["status"])
    values["options"] = decode_json(values["options"])
    values["metrics"] = decode_json(values["metrics"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRecord(**values)
