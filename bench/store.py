"""Store benchmark: interim messages in and out, and program listings at scale.

    .venv/bin/python bench/store.py [--messages 1000] [--programs 10000] [--repeat 7]

Runs against a fresh SQLite store (WAL) in a temporary folder and prints, for each figure,
the median and the best of ``--repeat`` runs. Targets: replaying 1,000 interim messages
under 100 ms; listing from 10,000 programs under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.store import Database, open_database

OWNERS = [f"user-{i}" for i in range(10)]
METADATA = {
    "name": "hello-world",
    "description": "A sample runtime program that submits random circuits.",
    "max_execution_time": 300,
    "spec": {
        "backend_requirements": {"min_num_qubits": 5},
        "parameters": {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "properties": {
                "iterations": {"type": "integer", "minimum": 0, "description": "Iterations."}
            },
            "required": ["iterations"],
        },
        "return_values": {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "description": "A string that says 'All done!'.",
            "type": "string",
        },
        "interim_results": {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "properties": {
                "iteration": {"type": "integer", "description": "Iteration number."},
                "counts": {"description": "Histogram of the circuit result.", "type": "object"},
            },
        },
    },
}
SOURCE = b"def main(backend, user_messenger, **kwargs):\n    return 'All done!'\n" * 20


def _timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median and best wall time in milliseconds, and the last run's return value."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), value


def _interim_message(i: int) -> str:
    counts = {format(k, "05b"): (i * 31 + k * 7) % 97 for k in range(8)}
    return json.dumps({"iteration": i, "counts": counts})


def bench_messages(db: Database, count: int, repeat: int) -> list[tuple[str, float, float]]:
    with db.write() as tx:
        job = tx.jobs.create(
            program_id="bench", program_version=1, owner="user-0", backend="sim", inputs="{}"
        )
        tx.jobs.claim_next("bench")
    messages = [_interim_message(i) for i in range(count)]

    start = time.perf_counter()
    for data in messages:  # as they arrive: one transaction per message
        with db.write() as tx:
            tx.jobs.append_message(job.id, data)
    store_ms = (time.perf_counter() - start) * 1000

    with db.write() as tx:
        batch = tx.jobs.create(
            program_id="bench", program_version=1, owner="user-0", backend="sim", inputs="{}"
        )
    start = time.perf_counter()
    with db.write() as tx:
        tx.jobs.append_messages(batch.id, messages)
    batch_ms = (time.perf_counter() - start) * 1000

    def replay() -> int:
        with db.read() as tx:
            return len(tx.jobs.messages(job.id))

    median, best, replayed = _timed(replay, repeat)
    assert replayed == count, replayed
    size = sum(map(len, messages)) // count
    return [
        (f"store {count} messages, one transaction each (~{size} B)", store_ms, store_ms),
        (f"store {count} messages, one transaction", batch_ms, batch_ms),
        (f"replay {count} messages (target < 100 ms)", median, best),
    ]


def bench_programs(db: Database, count: int, repeat: int) -> list[tuple[str, float, float]]:
    start = time.perf_counter()
    per_transaction = 500
    for first in range(0, count, per_transaction):
        with db.write() as tx:
            for i in range(first, min(first + per_transaction, count)):
                tx.programs.create(
                    name=f"program-{i}",
                    owner=OWNERS[i % len(OWNERS)],
                    metadata={**METADATA, "name": f"program-{i}"},
                    source_hash=f"{i:064x}",
                    entry="hello_world",
                    files={"hello_world.py": SOURCE},
                    is_public=i % 5 == 0,
                )
    create_s = time.perf_counter() - start

    def listing(
        user: str, admin: bool, limit: int | None, skip: int, read_metadata: bool = False
    ) -> Callable[[], int]:
        def run() -> int:
            with db.read() as tx:
                found = tx.programs.list_visible(user, is_admin=admin, limit=limit, skip=skip)
            if read_metadata:  # what building a full RuntimeProgram for each costs on top
                return sum(len(program.version.metadata) > 0 for program in found)
            return len(found)

        return run

    with db.read() as tx:
        visible = tx.programs.count_visible("user-1")
    cases = [
        (f"list first page of 20 (user sees {visible})", listing("user-1", False, 20, 0)),
        (f"list last page of 20 (user sees {visible})", listing("user-1", False, 20, visible - 20)),
        (f"list page of 20 at skip {count - 20} (admin)", listing("x", True, 20, count - 20)),
        (f"list all {visible} visible to a user", listing("user-1", False, None, 0)),
        (f"list all {count} (admin, target < 200 ms)", listing("x", True, None, 0)),
        (f"list all {count} and decode every metadata", listing("x", True, None, 0, True)),
    ]
    rows = [(f"create {count} programs, {per_transaction} per transaction", create_s * 1000, 0.0)]
    for label, run in cases:
        median, best, _ = _timed(run, repeat)
        rows.append((label, median, best))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory() as home, open_database(home=Path(home)) as db:
        rows = bench_messages(db, args.messages, args.repeat)
        rows += bench_programs(db, args.programs, args.repeat)
    width = max(len(label) for label, *_ in rows)
    print(f"{'what':<{width}}  {'median ms':>10}  {'best ms':>9}")
    for label, median, best in rows:
        best_text = f"{best:9.1f}" if best else f"{'':>9}"
        print(f"{label:<{width}}  {median:10.1f}  {best_text}")


if __name__ == "__main__":
    main()
