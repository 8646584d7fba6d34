"""Benchmark of the audit log: what one append costs per job (not a test).

Measures the embedded service's own work for one job, ``service.run(...)`` with no
executor (check the inputs, store the job, and, with the log, append its ``job.run`` entry
in the same transaction), with the audit log on and with its append switched off; and one
append alone (a write transaction holding only the append, against an empty one). Each
figure is per job or per append: the median of ROUNDS rounds of N each, with the min and
the max over the rounds. The two variants alternate round by round, so load from other work
on the machine falls on both alike.

Run: ``.venv/bin/python bench/audit.py [--rounds 7] [--jobs 100] [--database-url URL]``
(SQLite in a temporary folder by default; a PostgreSQL URL measures that instead). Needs
Docker for the one image build of the upload.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from table import print_table

PROGRAM = "def main(backend, user_messenger, **kwargs):\n    return kwargs.get('n', 1)\n"
METADATA = {"name": "audit-bench", "description": "Benchmark program.",
            "max_execution_time": 60, "is_public": True}


@contextlib.contextmanager
def _audit_off() -> Iterator[None]:
    """Switch the append off (what the service costs without the log)."""
    from engine.store.audit_queries import AuditRepository

    original = AuditRepository.append
    AuditRepository.append = lambda self, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        AuditRepository.append = original  # type: ignore[method-assign]


def _per_item(function: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - start) / count


def _summary(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"{statistics.median(ms):.2f} ms"


def _spread(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"min {min(ms):.2f}, max {max(ms):.2f} ms over {len(ms)} rounds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=100, help="jobs (and appends) per round")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.jobs > 100:
        parser.error("--jobs: at most 100 (max_queued_per_user; each round is a fresh user)")

    from sqlalchemy import text

    from engine import RuntimeService
    from engine.audit import EMBEDDED

    with tempfile.TemporaryDirectory() as home, RuntimeService(
        home=Path(home), user="bench", database_url=args.database_url, executor=None
    ) as service:
        program_id = service.upload_program(PROGRAM, METADATA)
        database = service._db
        with_log: list[float] = []
        without_log: list[float] = []
        append: list[float] = []
        empty: list[float] = []

        def run_as(user: str) -> Callable[[], None]:
            view = service.as_user(user)
            return lambda: view.run(program_id, {"n": 2}) and None

        def one_append() -> None:
            with database.write() as tx:
                tx.audit.append(actor="bench", action="job.run", obj="job", details={"n": 2},
                                origin=EMBEDDED)

        def empty_write() -> None:
            with database.write() as tx:  # takes the write lock, writes nothing
                tx.session.execute(text("SELECT 1"))

        run_as("warm-up")()
        for round_number in range(args.rounds):
            with_log.append(_per_item(run_as(f"on-{round_number}"), args.jobs))
            with _audit_off():
                without_log.append(_per_item(run_as(f"off-{round_number}"), args.jobs))
            append.append(_per_item(one_append, args.jobs))
            empty.append(_per_item(empty_write, args.jobs))
        dialect = database.dialect

    cost = [a - b for a, b in zip(with_log, without_log, strict=True)]
    alone = [a - b for a, b in zip(append, empty, strict=True)]
    print(f"store: {dialect}; {args.rounds} rounds of {args.jobs}; median per job (per append)")
    print_table([
        ("service.run, audit log on", _summary(with_log), _spread(with_log)),
        ("service.run, audit append off", _summary(without_log), _spread(without_log)),
        ("audit cost per job (on - off, per round)", _summary(cost), _spread(cost)),
        ("write transaction holding one append", _summary(append), _spread(append)),
        ("write transaction holding SELECT 1", _summary(empty), _spread(empty)),
        ("one append alone (difference, per round)", _summary(alone), _spread(alone)),
    ])


if __name__ == "__main__":
    main()
