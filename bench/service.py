"""Benchmark of the embedded RuntimeService (not a test).

Reports, on this machine, each figure as the median, min and max of repeated runs:

- the service's overhead per job (target under 50 ms): the median of end-to-end runs
  (``service.run(...)`` to ``.result()``) minus the median of bare sandbox runs of the same
  job (``engine.sandbox.run_job`` of the spec the service built for it, no service), the two
  taking turns, the image already built. The older figure, each job's end-to-end time minus
  the ``run_job`` call inside it, is printed too: it leaves out the service's work around
  the sandbox run and so reads lower;
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
import uuid
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
def _watching_run_job(times: list[float], specs: list):
    """Record each job's spec and how long its ``run_job`` call takes inside the executor."""
    import engine.sandbox

    original = engine.sandbox.run_job

    def watched(spec, *args, **kwargs):
        specs.append(spec)
        start = time.perf_counter()
        try:
            return original(spec, *args, **kwargs)
        finally:
            times.append((time.perf_counter() - start) * 1000)

    engine.sandbox.run_job = watched
    try:
        yield
    finally:
        engine.sandbox.run_job = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    add_quick_flag(parser)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    programs = 500 if args.quick else 10_000
    messages = 100 if args.quick else 1000

    from engine import RuntimeService
    from engine.sandbox.execution import run_job

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as home:
        service = RuntimeService(home=home, user="bench", max_concurrent_jobs=1)
        try:
            program_id = service.upload_program(TRIVIAL, METADATA)
            inside: list[float] = []
            specs: list = []
            with _watching_run_job(inside, specs):
                service.run(program_id).result(timeout=120)  # warm: image, backends, imports
                spec = specs[0]  # the same job, as the service hands it to the sandbox

                def bare() -> None:
                    outcome = run_job(spec.model_copy(
                        update={"job_id": f"bench-{uuid.uuid4().hex[:12]}"}))
                    assert outcome.status == "DONE", (outcome.reason, outcome.error)

                bare()
                inside.clear()
                found = interleaved({
                    "bare": bare,
                    "served": lambda: service.run(program_id).result(timeout=120),
                }, runs)
            # (The bare runs call run_job directly, so only the service's calls are timed.)
            bare, served = found["bare"], found["served"]
            overhead = statistics.median(served) - statistics.median(bare)
            figures.append(Figure("bare sandbox run (run_job of the same spec), trivial program",
                                  bare, "ms"))
            figures.append(Figure("service.run(...).result(), same program and inputs",
                                  served, "ms"))
            figures.append(Figure(
                "service overhead per job (median end to end - median bare run)", [overhead],
                "ms", Target.below(50), note="one difference of two medians"))
            figures.append(Figure(
                "old figure: each job's end to end - its own run_job",
                [total - sandbox for total, sandbox in zip(served, inside, strict=True)], "ms",
                Target.below(50), note="leaves out the service's work around the run"))

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
