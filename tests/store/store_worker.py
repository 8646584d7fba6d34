"""A separate process working on a store, for the cross-process store tests.

    python store_worker.py open HOME                 open (and migrate) the store
    python store_worker.py hold HOME                 write, report, then wait to be killed
    python store_worker.py claim HOME NAME THREADS [LIMIT]
                                                     after "go" on stdin, claim until empty
                                                     (LIMIT: running jobs per user)
    python store_worker.py append HOME JOB N         after "go" on stdin, append N messages

HOME is a store's folder or a database URL. Results go to stdout as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from engine.store import Database
from engine.store import open_database as _open_store


def open_database(home: str) -> Database:
    """The store in folder ``home``, or at ``home`` when it is a database URL."""
    if "://" in home:
        return _open_store(home)
    return _open_store(home=Path(home))


def _say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def _open(home: str) -> None:
    open_database(home).close()
    _say({"opened": True})


def _hold(home: str) -> None:
    db = open_database(home)
    with db.write() as tx:
        tx.programs.create(
            name="held",
            owner="x",
            metadata={"name": "held"},
            source_hash="0" * 64,
            entry="held",
            files={"held.py": b"def main(backend, user_messenger):\n    pass\n"},
        )
        for _ in range(49):
            tx.jobs.create(
                program_id="held", program_version=1, owner="x", backend="b", inputs="{}"
            )
        tx.session.flush()
        _say({"written": 50})
        time.sleep(3600)  # killed here, inside the open transaction


def _claim(home: str, name: str, threads: int, limit: int | None = None) -> None:
    db = open_database(home)
    sys.stdin.readline()
    claimed: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        while True:
            with db.write() as tx:
                job = tx.jobs.claim_next(f"{name}-{index}", max_running_per_user=limit)
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    _say(claimed)


def _append(home: str, job_id: str, count: int) -> None:
    db = open_database(home)
    sys.stdin.readline()
    seqs = []
    for i in range(count):
        with db.write() as tx:
            seqs.append(tx.jobs.append_message(job_id, json.dumps(f"{os.getpid()}-{i}")))
    _say(seqs)


if __name__ == "__main__":
    command, home, *rest = sys.argv[1:]
    if command == "open":
        _open(home)
    elif command == "hold":
        _hold(home)
    elif command == "claim":
        _claim(home, rest[0], int(rest[1]), int(rest[2]) if len(rest) > 2 else None)
    elif command == "append":
        _append(home, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
