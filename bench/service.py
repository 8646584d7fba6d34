"""Benchmark of the embedded RuntimeService (not a test).

Reports, in one run on this machine:

- the service's overhead per job over a bare ``run_program`` of the same program (target under
  50 ms): median of N runs each, the image already built;
- storing 1,000 interim messages as a program publishes them, and replaying them after the job
  (replay target under 100 ms);
- listing 10,000 programs (target under 200 ms).

Run: ``.venv/bin/python bench/service.py [--runs N]``. Needs Docker.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from table import print_table

TRIVIAL = "def main(backend, user_messenger, **kwargs):\n    return 'ok'\n"
CHATTY = (
    "def main(backend, user_messenger, **kwargs):\n"
    "    for i in range(kwargs.get('count', 1000)):\n"
    "        user_messenger.publish({'i': i, 'payload': 'x' * 32})\n"
    "    return 'done'\n"
)
METADATA = {"name": "bench", "description": "Benchmark program.", "max_execution_time": 300}


_last_totals: list[float] = []


def _median_seconds(function, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    _last_totals[:] = samples
    return statistics.median(samples)


@contextlib.contextmanager
def _timing_run_program(into: list[float]):
    """Record how long each job's run_program takes inside the executor."""
    import engine.sandbox

    original = engine.sandbox.run_program

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    engine.sandbox.run_program = timed
    try:
        yield
    finally:
        engine.sandbox.run_program = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from engine import RuntimeService
    from engine.loader import program_from_source
    from engine.metadata import load_metadata
    from engine.submission import run_program

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as home:
        service = RuntimeService(home=home, user="bench", max_concurrent_jobs=1)
        try:
            metadata = load_metadata(METADATA)
            source = program_from_source(TRIVIAL, metadata=metadata)
            program_id = service.upload_program(TRIVIAL, METADATA)
            run_program(source, {}, metadata=metadata)  # warm: image, backends, imports
            service.run(program_id).result(timeout=120)

            bare = _median_seconds(lambda: run_program(source, {}, metadata=metadata), args.runs)
            inside: list[float] = []
            with _timing_run_program(inside):
                served = _median_seconds(
                    lambda: service.run(program_id).result(timeout=120), args.runs
                )
            overhead = statistics.median(
                total - sandbox for total, sandbox in zip(_last_totals, inside, strict=True)
            )
            rows.append(("bare run_program, trivial program", f"{bare * 1000:.0f} ms", ""))
            rows.append(("service.run(...).result(), same", f"{served * 1000:.0f} ms", ""))
            rows.append(("service overhead per job (end to end minus its run_program)",
                         f"{overhead * 1000:.1f} ms", "target < 50 ms"))

            chatty_id = service.upload_program(CHATTY, {**METADATA, "name": "chatty"})
            start = time.perf_counter()
            job = service.run(chatty_id, {"count": 1000})
            job.result(timeout=300)
            stored = time.perf_counter() - start
            replay = _median_seconds(job.interim_results, 5)
            count = len(job.interim_results())
            rows.append((f"job publishing {count} interim messages, stored as they arrive",
                         f"{stored * 1000:.0f} ms", ""))
            rows.append((f"replay of {count} interim messages", f"{replay * 1000:.1f} ms",
                         "target < 100 ms"))

            _fill_programs(service, 10_000)
            listing = _median_seconds(lambda: service.programs(limit=None), 3)
            page = _median_seconds(lambda: service.programs(limit=20, skip=5000), 5)
            total = len(service.programs(limit=None))
            rows.append((f"list all {total} programs", f"{listing * 1000:.0f} ms",
                         "target < 200 ms"))
            rows.append(("list one page of 20 at skip 5,000", f"{page * 1000:.1f} ms", ""))
        finally:
            service.close()

    print_table(rows)


def _fill_programs(service, count: int) -> None:
    """Store ``count`` programs straight through the store (uploads would build images)."""
    from engine.loader import program_from_source
    from engine.metadata import load_metadata

    metadata = load_metadata(Path("program_source/hello_world/hello_world.json"))
    source = program_from_source(TRIVIAL, metadata=metadata)
    with service._db.write() as tx:
        for index in range(count):
            tx.programs.create(
                name=f"program-{index}", owner="bench", metadata=metadata.to_dict(),
                source_hash=source.source_hash, entry=source.entry, files=dict(source.files),
            )


if __name__ == "__main__":
    main()
