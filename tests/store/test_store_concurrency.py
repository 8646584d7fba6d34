"""Races on one SQLite file: claims and appends from many threads and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from engine.records import JobStatus
from engine.store import Database, open_database

WORKER = Path(__file__).with_name("store_worker.py")


def _threads(count: int, target, *args) -> list[object]:
    """Run ``target(index, *args)`` on ``count`` threads released together; their returns."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index, *args)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def _claim_all(index: int, db: Database, limit: int | None = None) -> list[str]:
    claimed = []
    while True:
        with db.write() as tx:
            job = tx.jobs.claim_next(f"thread-{index}", max_running_per_user=limit)
        if job is None:
            return claimed
        claimed.append(job.id)


def test_threads_never_claim_a_job_twice(db: Database, add_job) -> None:
    with db.write() as tx:
        ids = [add_job(tx, f"user-{i % 3}").id for i in range(120)]

    results = _threads(6, _claim_all, db)

    claimed = [job_id for batch in results for job_id in batch]  # type: ignore[union-attr]
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sorted(claimed) == sorted(ids)
    assert sum(1 for batch in results if batch) > 1  # the work really was shared
    with db.read() as tx:
        assert tx.jobs.count(status=JobStatus.RUNNING) == 120


def test_threads_respect_the_per_user_limit(db: Database, add_job) -> None:
    with db.write() as tx:
        for i in range(30):
            add_job(tx, f"user-{i % 3}")

    _threads(6, _claim_all, db, 2)

    with db.read() as tx:
        running = Counter(job.owner for job in tx.jobs.list(status="RUNNING", limit=None))
    assert running == {"user-0": 2, "user-1": 2, "user-2": 2}


def test_processes_never_claim_a_job_twice(tmp_path: Path, add_job) -> None:
    with open_database(home=tmp_path) as db, db.write() as tx:
        ids = [add_job(tx).id for _ in range(150)]

    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "claim", str(tmp_path), name, "2"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("proc-a", "proc-b")
    ]
    outputs = [worker.communicate("go\n", timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]

    per_process = [json.loads(output) for output in outputs]
    claimed = [job_id for batch in per_process for job_id in batch]
    assert len(claimed) == len(set(claimed)) == 150
    assert set(claimed) == set(ids)
    with open_database(home=tmp_path) as db, db.read() as tx:
        holders = {job.id: job.claimed_by for job in tx.jobs.list(limit=None)}
    for name, batch in zip(("proc-a", "proc-b"), per_process, strict=True):
        assert all(holders[job_id].startswith(name) for job_id in batch)


def test_concurrent_appends_get_gap_free_numbers(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)

    def append(index: int) -> list[int]:
        seqs = []
        for i in range(40):
            with db.write() as tx:
                seqs.append(tx.jobs.append_message(job.id, json.dumps([index, i])))
        return seqs

    results = _threads(8, append)

    with db.read() as tx:
        stored = tx.jobs.messages(job.id)
        count = tx.jobs.get(job.id).message_count
    assert [seq for seq, _ in stored] == list(range(1, 321)) and count == 320
    for index, seqs in enumerate(results):
        assert seqs == sorted(seqs)  # each writer's messages keep its order
        mine = [json.loads(data) for seq, data in stored if seq in set(seqs)]
        assert mine == [[index, i] for i in range(40)]


def test_appends_from_two_processes_get_gap_free_numbers(tmp_path: Path, add_job) -> None:
    with open_database(home=tmp_path) as db, db.write() as tx:
        job = add_job(tx)

    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "append", str(tmp_path), job.id, "60"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate("go\n", timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]

    seqs = sorted(seq for output in outputs for seq in json.loads(output))
    assert seqs == list(range(1, 121))
    with open_database(home=tmp_path) as db, db.read() as tx:
        assert [seq for seq, _ in tx.jobs.messages(job.id)] == list(range(1, 121))
