"""The store: programs, versions, jobs and interim messages in SQL (SQLite or PostgreSQL).

    from engine.store import open_database

    db = open_database(home=path)            # SQLite at <home>/engine.db, migrated
    with db.write() as tx:                   # one transaction; rolled back on error
        job = tx.jobs.claim_next("host-1", max_running_per_user=2)
    with db.read() as tx:
        messages = tx.jobs.messages(job.id)

Queries return frozen records (:mod:`engine.records`), never live ORM objects.
"""

from engine.store.database import Database, Transaction, default_url, open_database
from engine.store.job_queries import JobRepository, Recovery, new_job_id
from engine.store.program_queries import ProgramRepository, new_program_id
from engine.store.users import UserRepository, check_user_name

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
