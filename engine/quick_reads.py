"""Answering a listing from the local store without opening the service.

A command such as ``program-engine jobs list`` opens a :class:`~engine.service.RuntimeService`
for one read and exits: most of its start-up would go to importing SQLAlchemy,
pydantic-settings and the policies. :class:`QuickReads` answers the three reads the CLI's
listing commands make (``jobs list``, ``jobs show``, ``programs list``) from the SQLite file
the service would open, through :class:`~engine.store.sqlite_reads.SQLiteReads`, with the
service's results: the same records and the same job documents.

Each method answers ``None`` whenever the service might answer differently, and the caller
then asks the service, which does the rest as always:

- the store is not a plain SQLite file (PostgreSQL, a URL with options, a config file named
  by ``$ENGINE_CONFIG`` that only :class:`~engine.settings.Settings` reads right);
- the file is missing or its schema is not the newest (the service creates or migrates it);
- a RUNNING job is held by a process of this host that has died (the service ends it as
  ``engine_restarted`` before it answers);
- the job asked for is missing or another user's (the service says so, in its words);
- anything fails while reading: a failure here costs only time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine.records import JobRecord
from engine.settings_env import default_home, environment_value, names_config_file
from engine.store.location import DATABASE_FILE, plain_sqlite_file
from engine.store.sqlite_reads import SQLiteReads

_T = TypeVar("_T")


def store_file(home: str | os.PathLike[str] | None = None, database_url: str | None = None
               ) -> Path | None:
    """The SQLite file ``RuntimeService(home=home, database_url=database_url)`` would open,
    as the settings in the environment name it; ``None`` for any other kind of store."""
    if names_config_file():
        return None
    url = database_url or environment_value("database_url")
    if url:
        return plain_sqlite_file(url)
    if home is None:
        configured = environment_value("home")
        home = default_home() if configured is None else configured
    return Path(home) / DATABASE_FILE


class QuickReads:
    """The listings of the store at ``path`` as ``user`` sees them (``path=None``: no store
    this can read, so every answer is ``None``)."""

    def __init__(self, path: Path | None, user: str, *, is_admin: bool = False) -> None:
        self.path = path
        self.user = user
        self.is_admin = is_admin

    def jobs(self, **filters: Any) -> list[JobRecord] | None:
        """What ``RuntimeService.jobs(**filters)`` lists, as records."""
        return self._answer(lambda reads: reads.jobs(**filters))

    def job(self, job_id: str) -> JobRecord | None:
        """The record ``RuntimeService.job(job_id)`` holds, if the user may see it."""
        return self._answer(lambda reads: reads.job(job_id))

    def job_documents(self, **filters: Any) -> list[dict[str, Any]] | None:
        """``[job.to_dict() for job in RuntimeService.jobs(**filters)]``."""
        records = self.jobs(**filters)
        return None if records is None else [_document(record) for record in records]

    def job_document(self, job_id: str) -> dict[str, Any] | None:
        """``RuntimeService.job(job_id).to_dict()``."""
        record = self.job(job_id)
        return None if record is None else _document(record)

    def programs(self, **paging: Any) -> list[Any] | None:
        """``RuntimeService.programs(**paging)``: :class:`RuntimeProgram` objects."""
        from engine.runtime_program import RuntimeProgram

        records = self._answer(lambda reads: reads.programs(**paging))
        return None if records is None else [RuntimeProgram.from_record(r) for r in records]

    def _answer(self, read: Callable[[SQLiteReads], _T]) -> _T | None:
        if self.path is None:
            return None
        try:
            reads = SQLiteReads.open(self.path, self.user, is_admin=self.is_admin)
            if reads is None:
                return None
            with reads:
                if _engine_died_here(reads.running_claimers()):
                    return None
                return read(reads)
        except Exception:  # the service answers instead, and reports what is wrong
            return None


def _engine_died_here(claimers: set[str]) -> bool:
    """Whether a RUNNING job is held by a process of this host that has died."""
    if not claimers:
        return False
    from engine.process_identity import is_alive, is_local  # psutil: only when jobs run

    return any(is_local(claimer) and not is_alive(claimer) for claimer in claimers)


def _document(record: JobRecord) -> dict[str, Any]:
    from engine.documents import JobDocument

    return JobDocument.of(record).to_json()
