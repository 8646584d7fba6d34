"""Benchmark of reused sandboxes (not a test): one table, medians with min and max.

- hello_world (3 iterations) in a warm host process, and as a job on a reused container
  (the fork server's child runs it); target: the reused job at most 30 ms over the host;
- throughput of hello_world, 20 jobs at once (``max_concurrent_jobs`` 2, the policy's
  pool: reuse on) through an embedded ``RuntimeService`` (target >= 240 jobs/min) and
  through the daemon on 127.0.0.1 (target: within 10 % of the embedded figure), and through
  an embedded service with reuse and the pool off (a fresh container per job, as before);
- the first job of a program never seen before (its image build included), with reuse off
  (no pool) and on (a reusing pool), taking turns (target: on no slower than off); with
  ``--before PATH`` also the same through the engine checked out at PATH (its own runner
  image), as a fresh process each;
- the memory an idle warm container holds (its cgroup), against the default budget.

Run: ``.venv/bin/python bench/reuse.py [--runs N] [--jobs N] [--before PATH] [--quick]``.
Needs Docker; builds images on demand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from table import Figure, Target, add_quick_flag, interleaved, print_figures

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "program_source" / "hello_world"
INPUTS = {"iterations": 3}

FIRST_JOB_BEFORE = """
import sys, time, uuid
from pathlib import Path
from engine.loader import load_program, program_from_source
from engine.submission import run_program
hello = load_program(sys.argv[1])
run_program(hello, {"iterations": 3})  # the host's imports and the runtime image
text = Path(sys.argv[1], "hello_world.py").read_text() + f"\\n# {uuid.uuid4().hex}\\n"
source = program_from_source(text, metadata=hello.metadata, entry="hello_world")
start = time.perf_counter()
outcome = run_program(source, {"iterations": 3})
assert outcome.status == "DONE", outcome.error
print(time.perf_counter() - start)
"""


def _throughput(run_all, jobs: int, rounds: int) -> list[float]:
    """Jobs per minute of ``rounds`` batches of ``jobs`` submitted at once."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        run_all(jobs)
        rates.append(jobs / (time.perf_counter() - start) * 60)
    return rates


def _batch(service, program_id: str):
    def run_all(jobs: int) -> None:
        submitted = [service.run(program_id, INPUTS) for _ in range(jobs)]
        for job in submitted:
            assert job.result(timeout=600) == "Hello, World!", job.status()
    return run_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--jobs", type=int, default=20, help="jobs per throughput batch")
    parser.add_argument("--rounds", type=int, default=3, help="throughput batches per door")
    parser.add_argument("--before", type=Path, help="a checkout of the engine to compare with")
    add_quick_flag(parser)
    args = parser.parse_args()
    runs, jobs, rounds = (2, 4, 1) if args.quick else (args.runs, args.jobs, args.rounds)
    with tempfile.TemporaryDirectory() as scratch:
        _measure(Path(scratch), args, runs, jobs, rounds)


def _use_policies(path: Path) -> None:
    """Make ``path`` the policies of this process (and of the daemons it starts)."""
    from engine.sandbox.policy import load_sandbox_policy

    os.environ["ENGINE_POLICY_DIR"] = str(path)
    load_sandbox_policy.cache_clear()


def _measure(root: Path, args: argparse.Namespace, runs: int, jobs: int, rounds: int) -> None:
    from daemon import Daemon, unthrottled_policies
    from server import _token

    policies = unthrottled_policies(root / "policies",
                                    sandbox={"reuse": True, "warm_pool_size": 1})
    _use_policies(policies)

    from engine.client import RemoteRuntimeService
    from engine.loader import load_program, program_from_source
    from engine.program import CollectingMessenger
    from engine.sandbox.docker_client import shared_client
    from engine.sandbox.images import ensure_runtime_image
    from engine.sandbox.policy import load_sandbox_policy
    from engine.sandbox.pool import WarmPool, idle_memory_budget
    from engine.service import RuntimeService
    from engine.submission import run_program

    sys.path.insert(0, str(REPO))
    from qiskit_aer import AerSimulator

    from program_source.hello_world import hello_world

    ensure_runtime_image()
    policy = load_sandbox_policy()
    assert policy.reuse, "the bench's policy copy turns reuse on"
    figures: list[Figure] = []
    hello = load_program(HELLO)

    def checked(outcome):
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        return outcome

    # --- a reused job against main() in a warm host process -------------------------------
    backend = AerSimulator()
    hello_world.main(backend, CollectingMessenger(), **INPUTS)
    pool = WarmPool.from_policy(shared_client(), policy)
    idle_memory: list[float] = []
    try:
        checked(run_program(hello, INPUTS, pool=pool))  # the container the others reuse

        def reused() -> None:
            outcome = checked(run_program(hello, INPUTS, pool=pool))
            assert outcome.metrics["reused"], outcome.metrics

        found = interleaved({
            "host": lambda: hello_world.main(backend, CollectingMessenger(), **INPUTS),
            "reused": reused,
        }, runs)
        idle_memory = [entry.memory / 2**20 for entry in pool.idle()]
        for _ in range(runs - 1):  # more samples of an idle container's memory
            time.sleep(0.5)
            idle_memory += [entry.memory / 2**20 for entry in pool.idle()]
    finally:
        pool.close()
    over = statistics.median(found["reused"]) - statistics.median(found["host"])
    figures.append(Figure("hello_world main() in a warm host process", found["host"], "ms"))
    figures.append(Figure("hello_world as a job on a reused container", found["reused"], "ms"))
    figures.append(Figure("reused job - warm host process (medians)", [over], "ms",
                          Target.at_most(30), note="one difference of two medians"))

    # --- throughput: embedded, then the daemon --------------------------------------------
    with RuntimeService(home=root / "embedded", user="bench") as embedded:
        program_id = embedded.upload_program(str(HELLO))
        run_all = _batch(embedded, program_id)
        run_all(2)  # two containers, one per concurrent job, then reused
        local = _throughput(run_all, jobs, rounds)
    _use_policies(unthrottled_policies(root / "policies-off",
                                       sandbox={"reuse": False, "warm_pool_size": 0}))
    with RuntimeService(home=root / "embedded-off", user="bench") as embedded:
        program_id = embedded.upload_program(str(HELLO))
        run_all = _batch(embedded, program_id)
        run_all(2)
        local_off = _throughput(run_all, jobs, rounds)
    _use_policies(policies)
    daemon = Daemon(root / "daemon", policies)
    try:
        token = _token(root / "daemon", "bench")
        with RemoteRuntimeService(daemon.url, token) as remote:
            program_id = remote.upload_program(str(HELLO))
            run_all = _batch(remote, program_id)
            run_all(2)
            served = _throughput(run_all, jobs, rounds)
    finally:
        daemon.stop()
    figures.append(Figure(f"throughput, embedded service, {jobs} jobs at once, reuse off "
                          "(no pool)", local_off, "jobs/min"))
    figures.append(Figure(f"throughput, embedded service, {jobs} jobs at once", local,
                          "jobs/min", Target.at_least(240)))
    figures.append(Figure(f"throughput, daemon, {jobs} jobs at once", served, "jobs/min",
                          Target.at_least(0.9 * statistics.median(local)),
                          note="target: 90 % of the embedded median"))

    # --- the first job of a new program ---------------------------------------------------
    def fresh_source():
        text = HELLO.joinpath("hello_world.py").read_text() + f"\n# {uuid.uuid4().hex}\n"
        return program_from_source(text, metadata=hello.metadata, entry="hello_world")

    first_pool = WarmPool.from_policy(shared_client(), policy)
    try:
        first = interleaved({
            "off": lambda: checked(run_program(fresh_source(), INPUTS)),
            "on": lambda: checked(run_program(fresh_source(), INPUTS, pool=first_pool)),
        }, runs, scale=1)
    finally:
        first_pool.close()
    figures.append(Figure("first job of a new program, reuse off", first["off"], "s"))
    figures.append(Figure("first job of a new program, reuse on", first["on"], "s",
                          Target.at_most(statistics.median(first["off"])),
                          note="target: the reuse-off median"))
    if args.before is not None:
        env = {key: value for key, value in os.environ.items() if key != "ENGINE_POLICY_DIR"}
        env["PYTHONPATH"] = str(args.before.resolve())  # with its own policies

        def before() -> float:
            done = subprocess.run([sys.executable, "-c", FIRST_JOB_BEFORE, str(HELLO)],
                                  check=True, capture_output=True, text=True, env=env,
                                  cwd=args.before)
            return float(done.stdout.strip().splitlines()[-1])

        figures.append(Figure(f"first job of a new program, engine at {args.before}",
                              [before() for _ in range(runs)], "s"))

    # --- idle memory ------------------------------------------------------------------------
    budget = idle_memory_budget(policy) / 2**20
    figures.append(Figure("idle warm container, memory (its cgroup)", idle_memory or [0.0],
                          "MiB"))
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    figures.append(Figure("default idle budget, share of this machine's memory",
                          [budget / total * 100], "%", Target.below(10),
                          note=f"{budget:.0f} MiB: about "
                               f"{budget / max(statistics.median(idle_memory or [1]), 1):.0f} "
                               f"idle containers"))
    print_figures(figures, title="bench/reuse.py: reused sandboxes, hello_world (3 iterations)")


if __name__ == "__main__":
    main()
