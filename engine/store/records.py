"""Plain, immutable records the store hands out.

Callers never hold a live ORM object or session: every query returns these frozen
dataclasses, detached from the database, safe to pass between threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple


class JobStatus(StrEnum):
    """The life of a job: QUEUED, then RUNNING, then exactly one final state."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        """Whether nothing can change this job's state any more."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(frozen=True)
class ProgramVersionRecord:
    """One version of a program.

    ``metadata`` is the full validated metadata dict as it was stored, decoded from
    ``metadata_json`` on first access (a listing of thousands of programs does not pay for
    the ones nobody reads). ``files`` maps each relative POSIX path to its bytes; it is
    ``None`` when the query did not load files.
    """

    program_id: str
    version: int
    metadata_json: str = field(repr=False)
    source_hash: str
    entry: str
    created_at: datetime
    files: dict[str, bytes] | None = field(default=None, repr=False)

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """The metadata dict (a fresh decode per record; treat it as read-only)."""
        value = json.loads(self.metadata_json)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ProgramRecord:
    """A program with its current version (``version.version == current_version``)."""

    id: str
    name: str
    owner: str
    is_public: bool
    created_at: datetime
    updated_at: datetime
    current_version: int
    version: ProgramVersionRecord


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored.

    ``inputs`` and ``result`` are the encoded JSON text (``RuntimeEncoder``), left for the
    caller to decode; ``options`` and ``metrics`` are decoded dicts. ``message_count`` is the
    number of interim messages stored so far (the seq of the last one).
    """

    id: str
    program_id: str
    program_version: int
    owner: str
    status: JobStatus
    reason: str | None
    backend: str
    profile: str | None
    inputs: str
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    result: str | None
    error_type: str | None
    error_message: str | None
    error_traceback: str | None
    logs: str
    metrics: dict[str, Any]
    cancel_requested: bool
    claimed_by: str | None
    heartbeat_at: datetime | None
    message_count: int

    @property
    def is_final(self) -> bool:
        """Whether the job has reached its final state."""
        return self.status.is_final


class Recovery(NamedTuple):
    """What :meth:`JobRepository.recover_after_restart` found.

    ``failed``: RUNNING jobs now ERROR with reason ``engine_restarted``; ``queued``: jobs
    still QUEUED, to be run.
    """

    failed: list[str]
    queued: list[str]
