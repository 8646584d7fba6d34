"""Opening the store: engine, connection settings, migrations and transactions.

:func:`open_database` takes any SQLAlchemy URL (``postgresql+psycopg://...`` with the
``postgres`` extra installed) or, by default, a SQLite file at ``<home>/engine.db``. It
brings the schema to the newest Alembic revision before returning, so ``program-engine``
never needs an ``alembic.ini``: the Alembic configuration is built here and the migration
scripts ship inside the package. A store already at :data:`HEAD_REVISION` is recognised by
one read of its ``alembic_version`` row, without importing Alembic (about 80 ms of a CLI
command's start); only a store behind it, or a new one, is upgraded through Alembic.

SQLite is set up for many threads and several processes on one file:

* WAL journal (readers never block the writer, nor the writer readers);
* ``synchronous=NORMAL`` (a commit survives a killed process; only a power cut may lose
  the last transactions);
* foreign keys on (deleting a program or job cascades to its rows);
* ``busy_timeout`` from the settings, so a writer waits for the lock instead of failing;
* the driver's own transaction handling off, so that :meth:`Database.write` can start every
  write transaction with ``BEGIN IMMEDIATE``. A deferred transaction that reads, then
  writes, fails at once (``SQLITE_BUSY``) if another writer got in between; an immediate one
  takes the write lock first and simply waits its turn.

Every change happens inside ``with db.write() as tx:``; an exception anywhere in the block
rolls all of it back, so nothing is ever half-written.

A database that is away (restarted, unreachable, its lock held past the busy timeout) makes a
transaction raise :class:`~engine.errors.StoreUnavailable`, and a full disk
:class:`~engine.errors.StorageFull`, instead of the driver's error: the doors answer 503 and
507. PostgreSQL connections are checked before use (``pool_pre_ping``), so the pool
reconnects by itself once the server is back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import ConfigurationError, StorageFull, StoreUnavailable
from engine.settings import Settings, get_settings
from engine.store.audit_queries import AuditRepository
from engine.store.job_queries import JobRepository
from engine.store.location import DATABASE_FILE, HEAD_REVISION
from engine.store.program_queries import ProgramRepository
from engine.store.review_queries import ReviewRepository
from engine.store.users import UserRepository

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SUPPORTED_DIALECTS = ("sqlite", "postgresql")

# Execution option that makes the SQLite ``begin`` hook emit BEGIN IMMEDIATE.
_WRITE_LOCK = "engine_write_lock"
# SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100): the disk refused the write.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
# PostgreSQL advisory lock taken while migrating, so concurrent first opens take turns.
_MIGRATION_LOCK_KEY = 0x656E67696E6D  # any fixed 64-bit int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One open transaction: the session and the repositories over it."""

    session: Session
    programs: ProgramRepository
    jobs: JobRepository
    writable: bool
    users: UserRepository
    reviews: ReviewRepository
    audit: AuditRepository


class Database:
    """An open store: hands out read and write transactions; thread-safe.

    Use ``with db.read() as tx:`` for queries and ``with db.write() as tx:`` for changes;
    either commits when the block ends and rolls back if it raises. Close with
    :meth:`close` (or use the database as a context manager).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing = threading.local()
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{_WRITE_LOCK: True}), expire_on_commit=False
        )

    @property
    def url(self) -> URL:
        """The database URL (password hidden when printed)."""
        return self.engine.url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only transaction: one consistent snapshot for the whole block."""
        with _store_errors(), self._read() as session, session.begin():
            yield _transaction(session, writable=False)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A write transaction, committed at the end of the block, rolled back on error.

        On SQLite it holds the database's write lock from its first statement to its end:
        keep the block short (no sandbox or network work inside), and never open a second
        write transaction inside it on the same thread, which could only wait for itself.
        """
        if getattr(self._writing, "active", False):
            raise RuntimeError("Database.write() inside Database.write() on one thread")
        self._writing.active = True
        try:
            with _store_errors(), self._write() as session, session.begin():
                yield _transaction(session, writable=True)
        finally:
            self._writing.active = False

    def schema_revisions(self) -> list[str]:
        """The revisions the store's ``alembic_version`` table records (none for a new store)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                return [str(row[0]) for row in rows]
        except SQLAlchemyError:  # no such table yet: a new store
            return []

    def ping(self) -> None:
        """Run ``SELECT 1``; raise if the database does not answer."""
        with self.read() as tx:
            tx.session.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is there already.

        A store at :data:`HEAD_REVISION` is left alone after one read, without Alembic.
        """
        if self.schema_revisions() == [HEAD_REVISION]:
            return
        from alembic import command  # imported here: only a store behind the head needs it

        config = alembic_config()
        # One write transaction for the whole upgrade (BEGIN IMMEDIATE on SQLite, an advisory
        # lock on PostgreSQL): two processes opening a new store at once take turns, and
        # the second finds the schema in place.
        with self.engine.execution_options(**{_WRITE_LOCK: True}).begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def alembic_config() -> Any:
    """The Alembic configuration of the store's migrations (built in code: no ``alembic.ini``);
    pass the connection to migrate over as ``config.attributes["connection"]``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config
@contextmanager
def _store_errors() -> Iterator[None]:
    """The driver's "database away" and "disk full" errors as the engine's."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise store_error(exc) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        raise store_error(exc) from exc


def store_error(exc: DBAPIError) -> StoreUnavailable | StorageFull:
    """The engine's error for a driver error that says the store is away or its disk full."""
    original = exc.orig
    detail = str(original).strip().splitlines()[0] if str(original).strip() else type(
        original).__name__
    if (getattr(original, "sqlite_errorcode", None) == _SQLITE_FULL
            or getattr(original, "sqlstate", None) == _PG_DISK_FULL
            or "disk is full" in detail or "No space left" in detail):
        return StorageFull(f"the store's disk is full ({detail}); nothing was written: free "
                           f"space where the store lives and try again")
    # The driver's text names the server's address: it stays in the engine's log.
    log.warning("the store does not answer: %s", detail[:500])
    return StoreUnavailable(f"the store does not answer ({type(original).__name__}); nothing "
                            f"was changed: try again once it is back")


def _transaction(session: Session, *, writable: bool) -> Transaction:
    return Transaction(
        session=session,
        programs=ProgramRepository(session, writable=writable),
        jobs=JobRepository(session, writable=writable),
        writable=writable,
        users=UserRepository(session, writable=writable),
        reviews=ReviewRepository(session, writable=writable),
        audit=AuditRepository(session, writable=writable),
    )


def default_url(home: Path) -> URL:
    """The SQLite URL of the store under ``home``."""
    return URL.create("sqlite+pysqlite", database=str(home / DATABASE_FILE))


def open_database(
    url: str | URL | None = None,
    *,
    home: Path | None = None,
    settings: Settings | None = None,
    migrate: bool = True,
) -> Database:
    """Open (creating if needed) the store and bring its schema up to date.

    ``url`` wins over ``settings.database_url``; with neither, the store is SQLite at
    ``<home>/engine.db``, ``home`` defaulting to ``settings.home``. Pool sizes and the SQLite
    busy timeout come from ``settings`` (default: :func:`get_settings`).
    """
    settings = settings or get_settings()
    raw = url or settings.database_url or default_url(Path(home or settings.home))
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(f"database_url: not a database URL ({exc})") from exc
    dialect = parsed.get_backend_name()
    if dialect not in SUPPORTED_DIALECTS:
        raise ConfigurationError(
            f"database_url: dialect {dialect!r} is not supported (use sqlite or postgresql)"
        )
    engine = (
        _sqlite_engine(parsed, settings)
        if dialect == "sqlite"
        else _server_engine(parsed, settings)
    )
    database = Database(engine)
    if migrate:
        try:
            database.migrate()
        except BaseException:
            database.close()
            raise
    return database


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout,
    }


def _server_engine(url: URL, settings: Settings) -> Engine:
    return create_engine(url, pool_pre_ping=True, **_pool_options(settings))


def _sqlite_engine(url: URL, settings: Settings) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        raise ConfigurationError(
            "database_url: an in-memory SQLite database cannot be shared between threads "
            "and processes; give a file path"
        )
    path = Path(database.removeprefix("file:").split("?", 1)[0])
    _prepare_file(path)
    busy_ms = int(settings.database_busy_timeout * 1000)
    engine = create_engine(
        url,
        connect_args={"timeout": settings.database_busy_timeout, "check_same_thread": False},
        **_pool_options(settings),
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions on its own; the ``begin`` hook does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_LOCK, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _prepare_file(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) if they are missing.

    SQLite gives its ``-wal`` and ``-shm`` files the permissions of the database file, so
    uploaded sources and results stay readable by the owner only.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
