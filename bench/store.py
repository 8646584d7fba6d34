"""Store benchmark: interim messages in and out, and program listings at scale.

    .venv/bin/python bench/store.py [--messages 1000] [--programs 10000] [--repeat 9] [--quick]

Runs against a fresh SQLite store (WAL) in a temporary folder and prints, for each figure,
the median, min and max of ``--repeat`` runs. Targets: replaying 1,000 interim messages
under 100 ms; listing all of 10,000 programs with their metadata decoded, as a listing
shows them, under 200 ms (the bare listing of records is printed beside it).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from table import Figure, Target, add_quick_flag, print_figures, samples

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


def _interim_message(i: int) -> str:
    counts = {format(k, "05b"): (i * 31 + k * 7) % 97 for k in range(8)}
    return json.dumps({"iteration": i, "counts": counts})


def bench_messages(db: Database, count: int, repeat: int) -> list[Figure]:
    messages = [_interim_message(i) for i in range(count)]

    def new_job() -> str:
        with db.write() as tx:
            job = tx.jobs.create(program_id="bench", program_version=1, owner="user-0",
                                 backend="sim", inputs="{}")
        return job.id

    one_each, batched = [], []
    for _ in range(repeat):
        job_id = new_job()
        start = time.perf_counter()
        for data in messages:  # as they arrive: one transaction per message
            with db.write() as tx:
                tx.jobs.append_message(job_id, data)
        one_each.append((time.perf_counter() - start) * 1000)
        batch_id = new_job()
        start = time.perf_counter()
        with db.write() as tx:
            tx.jobs.append_messages(batch_id, messages)
        batched.append((time.perf_counter() - start) * 1000)

    def replay() -> int:
        with db.read() as tx:
            return len(tx.jobs.messages(job_id))

    assert replay() == count
    size = sum(map(len, messages)) // count
    return [
        Figure(f"store {count} messages, one transaction each (~{size} B)", one_each, "ms"),
        Figure(f"store {count} messages, one transaction", batched, "ms"),
        Figure(f"replay {count} messages", samples(replay, repeat), "ms",
               Target.below(100 * count / 1000)),
    ]


def bench_programs(db: Database, count: int, repeat: int) -> list[Figure]:
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
    target = Target.below(200 * count / 10_000)
    cases = [
        (f"list first page of 20 (user sees {visible})", listing("user-1", False, 20, 0), None),
        (f"list last page of 20 (user sees {visible})",
         listing("user-1", False, 20, visible - 20), None),
        (f"list page of 20 at skip {count - 20} (admin)", listing("x", True, 20, count - 20),
         None),
        (f"list all {visible} visible to a user", listing("user-1", False, None, 0), None),
        (f"list all {count} and decode every metadata (admin)",
         listing("x", True, None, 0, True), target),
        (f"list all {count}, records only, metadata not decoded (admin)",
         listing("x", True, None, 0), None),
    ]
    figures = [Figure(f"create {count} programs, {per_transaction} per transaction",
                      [create_s * 1000], "ms", note="once")]
    for label, run, goal in cases:
        figures.append(Figure(label, samples(run, repeat), "ms", goal))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.messages, args.programs, args.repeat = 100, 500, 3

    with tempfile.TemporaryDirectory() as home, open_database(home=Path(home)) as db:
        figures = bench_messages(db, args.messages, args.repeat)
        figures += bench_programs(db, args.programs, args.repeat)
    print_figures(figures, title=f"bench/store.py (SQLite {sqlite3.sqlite_version}, WAL; "
                                 "targets scaled to the sizes given)")

if __name__ == "__main__":
    main()
