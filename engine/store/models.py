"""The store's tables as SQLAlchemy 2 declarative models.

Eight tables:

``programs``
    One row per program: its id (``<name>-<random suffix>``), current name, owner, visibility,
    creation and update times and the number of its current version.
``program_versions``
    Every version of a program, kept when a newer one is added: the full validated metadata
    (JSON text), the hash of its source files and its entry module. Deleted with its program.
``program_files``
    The source files of one version (a program may be a folder of several files).
``jobs``
    One row per run. ``program_id`` is a plain indexed string, not a foreign key, so a job
    and its result outlive the program it ran. ``status`` is one of :class:`JobStatus`;
    the ``(status, created_at)`` index serves the queue, ``(owner, created_at)`` the listings.
``job_messages``
    The interim messages of a job, numbered from 1 without gaps; deleted with the job.
``users``
    The daemon's users: a name (what ``owner`` columns hold) and an admin flag.
``api_tokens``
    Bearer tokens of users, kept only as SHA-256 hashes, each named by a short id (the first
    12 hex digits of its hash) and with an optional expiry; revoked ones are kept, marked.
``audit_log``
    Append-only, hash-chained record of every change and refusal that matters
    (:mod:`engine.audit`); ``seq`` numbers entries 1, 2, 3 ... without gaps.

A program version also carries its review state (``review_status``, one of
:class:`~engine.records.ReviewStatus`), who uploaded it, the scan report it got and the
reviewer's decision.

Times are timezone-aware UTC :class:`~datetime.datetime` objects on the Python side
(:class:`UTCDateTime`). JSON columns are stored as text and decoded by the query modules,
which hand callers plain records (:mod:`engine.records`), never these live objects.

The migrations under ``migrations/versions/`` create exactly this schema; a test compares
the two.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from engine.records import JobStatus, ReviewStatus

# Stable constraint names, so later migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column sizes: generous bounds that only keep a hostile value from bloating an index.
ID_LENGTH = 128
NAME_LENGTH = 200
PATH_LENGTH = 500
#: A token's id: the first hex digits of its SHA-256.
TOKEN_ID_LENGTH = 12


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    Values are converted to UTC on the way in; naive values are refused, because a naive time
    in a shared store is ambiguous. SQLite keeps the value as fixed-width ISO text (which
    sorts in time order); PostgreSQL as ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Program(Base):
    """A program; its content lives in :class:`ProgramVersion` rows."""

    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    current_version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_programs_created_at", "created_at"),
        Index("ix_programs_owner_created_at", "owner", "created_at"),
    )


class ProgramVersion(Base):
    """One version of a program: metadata, source hash and entry module."""

    __tablename__ = "program_versions"

    program_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # ``metadata`` is reserved by declarative classes; the column keeps the plain name.
    metadata_json: Mapped[str] = mapped_column("metadata", Text)
    source_hash: Mapped[str] = mapped_column(String(ID_LENGTH))
    entry: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    review_status: Mapped[str] = mapped_column(
        String(16), default=ReviewStatus.APPROVED.value, server_default=text("'approved'")
    )
    uploader: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    scan_report: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_program_versions_review_status", "review_status"),)


class ProgramFile(Base):
    """One source file of one program version."""

    __tablename__ = "program_files"

    program_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        ForeignKeyConstraint(
            ["program_id", "version"],
            ["program_versions.program_id", "program_versions.version"],
            ondelete="CASCADE",
        ),
    )


_STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)


class Job(Base):
    """One run of one program version, from queued to its single final state."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    program_version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    backend: Mapped[str] = mapped_column(String(NAME_LENGTH))
    profile: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    inputs: Mapped[str] = mapped_column(Text)
    options: Mapped[str] = mapped_column(Text, default="{}", server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    logs: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    metrics: Mapped[str] = mapped_column(Text, default="{}", server_default=text("'{}'"))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    claimed_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_jobs_status_created_at", "status", "created_at"),
        Index("ix_jobs_owner_created_at", "owner", "created_at"),
        Index("ix_jobs_program_id_created_at", "program_id", "created_at"),
    )


class JobMessage(Base):
    """One interim message of a job, as the sandbox sent it (encoded JSON text)."""

    __tablename__ = "job_messages"

    job_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """A user of the daemon; the embedded service names users without storing them."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_reviewer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiToken(Base):
    """One bearer token of a user, as the hex SHA-256 of the token (never the token)."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        String(NAME_LENGTH), ForeignKey("users.name", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Nullable only because SQLite adds a column to a filled table that way; always written.
    token_id: Mapped[str | None] = mapped_column(String(TOKEN_ID_LENGTH))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_api_tokens_user_name", "user_name"),
        Index("ix_api_tokens_token_id", "token_id", unique=True),
    )


class AuditEntry(Base):
    """One audit entry; ``hash`` is SHA-256 over ``prev_hash`` and the entry's canonical form."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(PATH_LENGTH))
    details: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_object", "object"),
    )


__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Job",
    "JobMessage",
    "Program",
    "ProgramFile",
    "ProgramVersion",
    "UTCDateTime",
    "User",
]
