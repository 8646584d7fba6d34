"""Benchmark of the sandbox's walls (not a test): one table, measured in one run.

- hello_world (3 iterations) under runc with the engine's seccomp profile, under runc with
  Docker's default profile, and under gVisor's runsc, side by side: job wall time and the
  sandbox's start (container start to the runner's ``ready``, Qiskit imported);
- hello_world from the warm pool under each runtime (the pool should hide most of runsc's
  slower start);
- the relay's per-call overhead of ``backend.run`` under each runtime, against a direct call;
- the cost of one system call (``getppid``, 200,000 in a loop) inside the sandbox under each
  (the seccomp filter runs on every call).

Each figure is the median of ``--runs`` repeats with min and max; the repeats of the
configurations are interleaved, so that a load change on the machine falls on all of them.
Targets: the seccomp profile adds no measurable time (its difference within the spread);
hello_world sandboxed under 0.8 s (bench/sandbox.py's target) under runc, and from the warm
pool; relay overhead under 1.5 ms per call (median relayed call minus median direct call).

Run: ``.venv/bin/python bench/walls.py [--runs N] [--quick]``. Needs Docker with runsc
registered (``scripts/setup``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sandbox import RELAY
from table import Figure, Target, add_quick_flag, print_figures

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "program_source" / "hello_world"

SYSCALLS = """
import os
import time

def main(backend, user_messenger, calls=200_000):
    start = time.perf_counter()
    for _ in range(calls):
        os.getppid()
    return {"seconds": time.perf_counter() - start, "calls": calls}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.runs = 1

    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    from engine.loader import load_program, program_from_source
    from engine.sandbox.container import ContainerSpec
    from engine.sandbox.docker_client import shared_client
    from engine.sandbox.images import ensure_program_image, ensure_runtime_image
    from engine.sandbox.policy import load_sandbox_policy
    from engine.sandbox.pool import WarmPool
    from engine.sandbox.runtimes import check_runtime
    from engine.submission import run_program

    ensure_runtime_image()
    check_runtime(shared_client(), "runsc")
    base = load_sandbox_policy().profile()
    walls = {
        "runc, engine seccomp": base.model_copy(update={"runtime": "runc"}),
        "runc, Docker's default seccomp": base.model_copy(update={"runtime": "runc",
                                                                  "seccomp": None}),
        "runsc": base.model_copy(update={"runtime": "runsc"}),
    }
    hello = load_program(HELLO)
    relay = program_from_source(RELAY, entry="relay")
    syscalls = program_from_source(SYSCALLS, entry="syscalls")
    inputs = {"iterations": 3}

    def checked(outcome):
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        return outcome

    for profile in walls.values():  # warm the host, the images and each runtime once
        checked(run_program(hello, inputs, profile=profile))

    wall_time: dict[str, list[float]] = defaultdict(list)
    start_time: dict[str, list[float]] = defaultdict(list)
    per_call: dict[str, list[float]] = defaultdict(list)
    per_syscall: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        for name, profile in walls.items():
            began = time.perf_counter()
            outcome = checked(run_program(hello, inputs, profile=profile))
            wall_time[name].append(time.perf_counter() - began)
            start_time[name].append(outcome.metrics["start_seconds"])
            result = checked(run_program(relay, {"calls": 200}, profile=profile)).result
            per_call[name].append(result["seconds"] / result["calls"])
            result = checked(run_program(syscalls, {}, profile=profile)).result
            per_syscall[name].append(result["seconds"] / result["calls"])

    pooled: dict[str, list[float]] = defaultdict(list)
    image = ensure_program_image(hello.files)
    for name in ("runc, engine seccomp", "runsc"):
        profile = walls[name]
        pool = WarmPool(shared_client(), size=1)
        try:
            pool.fill(ContainerSpec(image=image, job_id="bench", profile=profile))
            for _ in range(args.runs):
                _wait_ready(pool.ready_count)
                began = time.perf_counter()
                outcome = checked(run_program(hello, inputs, profile=profile, pool=pool))
                pooled[name].append(time.perf_counter() - began)
                assert outcome.metrics["warm_start"]
        finally:
            pool.close()

    backend = AerSimulator()
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    backend.run(circuit, shots=1).result()
    direct = []
    for _ in range(300):
        began = time.perf_counter()
        backend.run(circuit, shots=1).result()
        direct.append((time.perf_counter() - began) * 1000)

    below = Target.below
    figures: list[Figure] = []
    for name in walls:
        target = below(0.8) if name == "runc, engine seccomp" else None
        figures.append(Figure(f"hello_world sandboxed, {name}", wall_time[name], "s", target))
    engine, docker = (statistics.median(wall_time[name]) for name in list(walls)[:2])
    low, high = min(wall_time[list(walls)[1]]), max(wall_time[list(walls)[1]])
    verdict = "within" if low <= engine <= high else "OUTSIDE"
    figures.append(Figure("seccomp profile's cost (median engine - median Docker default)",
                          [(engine - docker) * 1000], "ms", decimals=0,
                          note=f"{verdict} the spread of Docker's default (target: within)"))
    for name in walls:
        figures.append(Figure(f"sandbox start to ready, {name}", start_time[name], "s"))
    for name, samples in pooled.items():
        figures.append(Figure(f"hello_world from the warm pool, {name}", samples, "s",
                              below(0.8)))
    figures.append(Figure("backend.run, 1 qubit, direct Aer (per call)", direct, "ms",
                          decimals=2))
    for name in walls:
        relayed = [sample * 1000 for sample in per_call[name]]
        figures.append(Figure(f"backend.run through the relay, {name} (per call)", relayed,
                              "ms", decimals=2))
        # Per run: its mean relayed call minus the median direct call; so the median of these
        # is the median relayed call against the median direct one.
        figures.append(Figure(f"relay overhead per call, {name}",
                              [sample - statistics.median(direct) for sample in relayed], "ms",
                              below(1.5), decimals=2, note="each run minus median direct"))
    for name in walls:
        figures.append(Figure(f"one system call in the sandbox, {name}",
                              [sample * 1e6 for sample in per_syscall[name]], "µs",
                              decimals=2))
    print_figures(figures, title="bench/walls.py")


def _wait_ready(ready_count: Callable[[], int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready_count() and time.monotonic() < deadline:
        time.sleep(0.01)  # the replacement of the last one is still starting


if __name__ == "__main__":
    main()
