"""The store: programs, versions, jobs and interim messages in SQL (SQLite or PostgreSQL).

    from engine.store import open_database

    db = open_database(home=path)            # SQLite at <home>/engine.db, migrated
    with db.write() as tx:                   # one transaction; rolled back on error
        job = tx.jobs.claim_next("host-1", max_running_per_user=2)
    with db.read() as tx:
        messages = tx.jobs.messages(job.id)

Queries return frozen records (:mod:`engine.records`), never live ORM objects.

The names below are imported on first use, so that :mod:`engine.store.sqlite_reads` (the
CLI's listings, standard library only) can be imported without SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.store.database import Database, Transaction, default_url, open_database
    from engine.store.job_queries import JobRepository, Recovery, new_job_id
    from engine.store.program_queries import ProgramRepository, new_program_id
    from engine.store.users import UserRepository, check_user_name

_HOMES = {
    "Database": "database",
    "JobRepository": "job_queries",
    "ProgramRepository": "program_queries",
    "Recovery": "job_queries",
    "Transaction": "database",
    "UserRepository": "users",
    "check_user_name": "users",
    "default_url": "database",
    "new_job_id": "job_queries",
    "new_program_id": "program_queries",
    "open_database": "database",
}
__all__ = [
    "Database",
    "JobRepository",
    "ProgramRepository",
    "Recovery",
    "Transaction",
    "UserRepository",
    "check_user_name",
    "default_url",
    "new_job_id",
    "new_program_id",
    "open_database",
]


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
