"""The engine's core types: a job's status, the reason it ended, and the stored records.

Everything above the store speaks these: the store returns them, the service, executors,
daemon, client and CLI read them. They are frozen dataclasses, detached from any database
session, safe to pass between threads. No door imports :mod:`engine.store`; they import this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any


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


class ReviewStatus(StrEnum):
    """Where a program version stands with its reviewers: only an approved version runs."""

    APPROVED = "approved"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Why a job ended in ``ERROR`` or ``CANCELLED``: machine-readable and stable.

    A ``DONE`` job has no reason. Each member's comment says when it happens; the README's
    table of end states lists the same.
    """

    # ERROR: the program itself.
    PROGRAM_EXCEPTION = "program_exception"  # main() raised; error holds its traceback
    BACKEND_REJECTED = "backend_rejected"  # an uncaught admission refusal of backend.run()
    RESULT_NOT_SERIALIZABLE = "result_not_serializable"  # the result cannot be encoded
    # the result that arrived cannot be stored or read back (lone surrogate, not JSON, too
    # deep or large, over the decode budget)
    RESULT_INVALID = "result_invalid"
    # ERROR: the sandbox.
    OUT_OF_MEMORY = "out_of_memory"  # the container hit its memory limit
    PROTOCOL_VIOLATION = "protocol_violation"  # the sandbox sent something malformed
    SANDBOX_CRASHED = "sandbox_crashed"  # the sandbox exited without a final message
    # ERROR: the engine around the job.
    SANDBOX_UNAVAILABLE = "sandbox_unavailable"  # Docker (or the runtime) cannot be reached
    SANDBOX_LOST = "sandbox_lost"  # Docker stopped answering while the job's sandbox ran
    PROGRAM_DELETED = "program_deleted"  # the program version went away before it ran
    ENGINE_RESTARTED = "engine_restarted"  # the engine process running it died
    NODE_LOST = "node_lost"  # the Ray node running it died
    ENGINE_ERROR = "engine_error"  # the engine failed while running it (a bug: see its log)
    # CANCELLED.
    RAN_TOO_LONG = "ran_too_long"  # max_execution_time was exceeded
    USER = "user"  # the caller cancelled it
    ENGINE_SHUTDOWN = "engine_shutdown"  # the engine stopped while it ran


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
    review_status: str = ReviewStatus.APPROVED
    uploader: str | None = None

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


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user, with how many of their tokens are still valid."""

    name: str
    is_admin: bool
    created_at: datetime
    active_tokens: int = 0
    is_reviewer: bool = False


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One bearer token of a user, without its secret.

    ``token_id`` is the first 12 hex digits of the token's SHA-256: it names the token in
    listings, revocations and the audit log, and reveals nothing usable of it.
    ``expires_at`` and ``revoked_at`` are ``None`` for a token that never expires or is not
    revoked.
    """

    token_id: str
    user: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``valid`` at ``now`` (timezone-aware)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "valid"
