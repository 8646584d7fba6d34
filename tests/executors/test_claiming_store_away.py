"""While the store is away, a running job's interim messages are held in order and its final
state waits: once the store answers, everything is written and nothing is lost or reordered.

A SQLite write lock held by another connection (past a short busy timeout) makes the store
refuse writes; no executor thread runs, the test calls the worker's two steps itself.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from engine.events import JobEvents
from engine.executors.claiming import ClaimingExecutor
from engine.records import JobStatus
from engine.settings import Settings
from engine.store import open_database
from engine.store.database import DATABASE_FILE
from tests.store.conftest import _add_job, _add_program


def test_interim_messages_and_the_final_state_wait_for_the_store(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_busy_timeout=0.1)
    with open_database(settings=settings) as db:
        with db.write() as tx:
            program = _add_program(tx)
            job = _add_job(tx, program_id=program.id)
            assert tx.jobs.claim_next("worker", max_running_per_user=None).id == job.id
        executor = ClaimingExecutor(db, JobEvents(), max_concurrent_jobs=1,
                                    max_running_per_user=None, poll_seconds=0.05,
                                    heartbeat_seconds=1)
        executor.store_interim(job.id, '"first"')
        holder = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        executor.store_interim(job.id, '"second"')  # held, not raised
        executor.store_interim(job.id, '"third"')
        finishing = threading.Thread(target=executor._finish, args=(job.id, {
            "status": JobStatus.DONE, "reason": None, "result": '"done"'}))
        finishing.start()
        time.sleep(0.5)
        assert finishing.is_alive()  # waiting for the store, not giving up
        holder.execute("ROLLBACK")
        holder.close()
        finishing.join(timeout=10)
        assert not finishing.is_alive()
        with db.read() as tx:
            record = tx.jobs.get(job.id)
            messages = tx.jobs.messages(job.id)
        assert record.status is JobStatus.DONE and record.result == '"done"'
        assert messages == [(1, '"first"'), (2, '"second"'), (3, '"third"')]
