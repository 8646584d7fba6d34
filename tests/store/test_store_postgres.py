"""The store on PostgreSQL: migrations, and queue claims raced by several processes.

Each test module gets a fresh database on the test server (the ``postgres_url`` fixture);
each test here empties the job and program tables first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from engine.records import JobStatus
from engine.store import Database, open_database

WORKER = Path(__file__).with_name("store_worker.py")
MIGRATIONS = Path(__file__).resolve().parents[2] / "engine" / "store" / "migrations" / "versions"

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    database = open_database(postgres_url)
    try:
        with database.write() as tx:
            tx.session.execute(text("DELETE FROM jobs"))
            tx.session.execute(text("DELETE FROM programs"))
        yield database
    finally:
        database.close()


def _workers(command: list[str], count: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, str(WORKER), *[arg.format(i=i) for arg in command]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]


def _release(workers: list[subprocess.Popen[str]]) -> list[str]:
    """Tell every worker to go at once, then collect their outputs."""
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return [worker.communicate(timeout=120)[0] for worker in workers]


def _newest_revision() -> str:
    revisions = sorted(p.stem.split("_", 1)[0] for p in MIGRATIONS.glob("[0-9]*.py"))
    return revisions[-1]


def test_migrations_reach_the_newest_revision_and_are_idempotent(pg: Database) -> None:
    assert pg.dialect == "postgresql"
    with pg.read() as tx:
        version = tx.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version.startswith(_newest_revision())
    assert {"programs", "jobs"} <= set(inspect(pg.engine).get_table_names())

    pg.migrate()  # a second run changes nothing and does not fail
    with pg.read() as tx:
        versions = tx.session.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [row[0] for row in versions] == [version]


def test_processes_opening_the_database_at_once_take_turns(pg: Database) -> None:
    workers = _workers(["open", str(pg.url.render_as_string(hide_password=False))], 3)
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0]
    assert [json.loads(output) for output in outputs] == [{"opened": True}] * 3


def test_two_processes_never_claim_a_job_twice(pg: Database, add_job) -> None:
    with pg.write() as tx:
        ids = [add_job(tx, f"user-{i % 3}").id for i in range(120)]

    url = pg.url.render_as_string(hide_password=False)
    workers = _workers(["claim", url, "proc-{i}", "3"], 2)
    outputs = _release(workers)
    assert [worker.returncode for worker in workers] == [0, 0]

    per_process = [json.loads(output) for output in outputs]
    claimed = [job_id for batch in per_process for job_id in batch]
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sorted(claimed) == sorted(ids)
    assert all(per_process)  # both processes really took part
    with pg.read() as tx:
        holders = {job.id: job.claimed_by for job in tx.jobs.list(limit=None)}
        assert tx.jobs.count(status=JobStatus.RUNNING) == 120
    for index, batch in enumerate(per_process):
        assert all(holders[job_id].startswith(f"proc-{index}-") for job_id in batch)


def test_two_processes_respect_the_per_user_limit(pg: Database, add_job) -> None:
    with pg.write() as tx:
        for i in range(30):
            add_job(tx, f"user-{i % 3}")

    url = pg.url.render_as_string(hide_password=False)
    workers = _workers(["claim", url, "proc-{i}", "3", "2"], 2)
    outputs = _release(workers)
    assert [worker.returncode for worker in workers] == [0, 0]

    claimed = [job_id for output in outputs for job_id in json.loads(output)]
    assert len(claimed) == len(set(claimed)) == 6
    with pg.read() as tx:
        running = Counter(job.owner for job in tx.jobs.list(status="RUNNING", limit=None))
        assert tx.jobs.count(status="QUEUED") == 24
    assert running == {"user-0": 2, "user-1": 2, "user-2": 2}


def test_appends_from_two_processes_get_gap_free_numbers(pg: Database, add_job) -> None:
    with pg.write() as tx:
        job = add_job(tx)

    url = pg.url.render_as_string(hide_password=False)
    workers = _workers(["append", url, job.id, "50"], 2)
    outputs = _release(workers)
    assert [worker.returncode for worker in workers] == [0, 0]

    assert sorted(seq for output in outputs for seq in json.loads(output)) == list(range(1, 101))
    with pg.read() as tx:
        assert [seq for seq, _ in tx.jobs.messages(job.id)] == list(range(1, 101))
