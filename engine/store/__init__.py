"""The store: programs, versions, jobs and interim messages in SQL (SQLite or PostgreSQL).

    from engine.store import open_database

    db = open_database(home=path)            # SQLite at <home>/engine.db, migrated
    with db.write() as tx:                   # one transaction; rolled back on error
        job = tx.jobs.claim_next("host-1", max_running_per_user=2)
    with db.read() as tx:
        messages = tx.jobs.messages(job.id)

Queries return frozen records (:mod:`engine.store.records`), never live ORM objects.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use: code that needs only the record types (the client, RuntimeJob)
# does not pay for SQLAlchemy and the settings.
_EXPORTS = {
    "Database": "engine.store.database",
    "Transaction": "engine.store.database",
    "default_url": "engine.store.database",
    "open_database": "engine.store.database",
    "CANCELLED_BY_USER": "engine.store.jobs",
    "ENGINE_RESTARTED": "engine.store.jobs",
    "JobRepository": "engine.store.jobs",
    "new_job_id": "engine.store.jobs",
    "ProgramRepository": "engine.store.programs",
    "new_program_id": "engine.store.programs",
    "ACTIVE_STATUSES": "engine.store.records",
    "FINAL_STATUSES": "engine.store.records",
    "JobRecord": "engine.store.records",
    "JobStatus": "engine.store.records",
    "ProgramRecord": "engine.store.records",
    "ProgramVersionRecord": "engine.store.records",
    "Recovery": "engine.store.records",
    "UserRecord": "engine.store.users",
    "UserRepository": "engine.store.users",
    "check_user_name": "engine.store.users",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
