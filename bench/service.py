"""Benchmark of the embedded RuntimeService (not a test).

Reports, on this machine, each figure as the median, min and max of repeated runs:

- the service's overhead per job (target under 50 ms): the median of end-to-end runs
  (``service.run(...)`` to ``.result()``) minus the median of bare sandbox runs of the same
  program and inputs (``engine.sandbox.run_program``, no service), the two taking turns, the
  image already built. The older figure, each job's end-to-end time minus the
  ``run_program`` call inside it, is printed too: it leaves out what the service does inside
  the run (input checks, the image lookup, decoding) and so reads lower;
- storing 1,000 interim messages as a program publishes them, and replaying them after the job
  (replay target under 100 ms);
- listing 10,000 programs as a user gets them, metadata decoded (``to_dict()`` of each;
  target under 200 ms), beside the bare listing of records.

Run: ``.venv/bin/python bench/service.py [--runs N] [--quick]``. Needs Docker.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from table import Figure, Target, add_quick_flag, interleaved, print_figures, samples

TRIVIAL = "def main(backend, user_messenger, **kwargs):\n    return 'ok'\n"
CHATTY = (
    "def main(backend, user_messenger, **kwargs):\n"
    "    for i in range(kwargs.get('count', 1000)):\n"
    "        user_messenger.publish({'i': i, 'payload': 'x' * 32})\n"
    "    return 'done'\n"
)
METADATA = {"name": "bench", "description": "Benchmark program.", "max_execution_time": 300}


@contextlib.contextmanager
def _timing_run_program(into: list[float]):
    """Record how long each job's run_program takes inside the executor (the old figure)."""
    import engine.sandbox

    original = engine.sandbox.run_program

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - start) * 1000)

    engine.sandbox.run_program = timed
    try:
        yield
    finally:
        engine.sandbox.run_program = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    add_quick_flag(parser)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    programs = 500 if args.quick else 10_000
    messages = 100 if args.quick else 1000

    from engine import RuntimeService
    from engine.loader import program_from_source
    from engine.metadata import load_metadata
    from engine.submission import run_program

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as home:
        service = RuntimeService(home=home, user="bench", max_concurrent_jobs=1)
        try:
            metadata = load_metadata(METADATA)
            source = program_from_source(TRIVIAL, metadata=metadata)
            program_id = service.upload_program(TRIVIAL, METADATA)
            run_program(source, {}, metadata=metadata)  # warm: image, backends, imports
            service.run(program_id).result(timeout=120)

            inside: list[float] = []
            with _timing_run_program(inside):
                found = interleaved({
                    "bare": lambda: run_program(source, {}, metadata=metadata),
                    "served": lambda: service.run(program_id).result(timeout=120),
                }, runs)
            # (The bare runs call the function imported above, so only the jobs are timed.)
            bare, served = found["bare"], found["served"]
            overhead = statistics.median(served) - statistics.median(bare)
            figures.append(Figure("bare run_program, trivial program", bare, "ms"))
            figures.append(Figure("service.run(...).result(), same program and inputs",
                                  served, "ms"))
            figures.append(Figure(
                "service overhead per job (median end to end - median bare run)", [overhead],
                "ms", Target.below(50), note="one difference of two medians"))
            figures.append(Figure(
                "old figure: each job's end to end - its own run_program",
                [total - sandbox for total, sandbox in zip(served, inside, strict=True)], "ms",
                Target.below(50), note="leaves out the service's work inside the run"))

            chatty_id = service.upload_program(CHATTY, {**METADATA, "name": "chatty"})
            jobs = []

            def publish() -> None:
                job = service.run(chatty_id, {"count": messages})
                job.result(timeout=300)
                jobs.append(job)

            figures.append(Figure(f"job publishing {messages} interim messages, stored as "
                                  "they arrive", samples(publish, runs), "ms"))
            job = jobs[-1]
            count = len(job.interim_results())
            figures.append(Figure(f"replay of {count} interim messages (decoded)",
                                  samples(job.interim_results, runs), "ms", Target.below(100)))

            _fill_programs(service, programs)
            total = len(service.programs(limit=None))
            decoded = interleaved({
                "decoded": lambda: [p.to_dict() for p in service.programs(limit=None)],
                "records": lambda: service.programs(limit=None),
            }, runs)
            figures.append(Figure(f"list all {total} programs, metadata decoded (to_dict)",
                                  decoded["decoded"], "ms", Target.below(200)))
            figures.append(Figure(f"list all {total} programs, records only (not decoded)",
                                  decoded["records"], "ms"))
            figures.append(Figure(f"list one page of 20 at skip {programs // 2}, decoded",
                                  samples(lambda: [p.to_dict() for p in service.programs(
                                      limit=20, skip=programs // 2)], runs), "ms"))
        finally:
            service.close()

    print_figures(figures, title="bench/service.py")


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
