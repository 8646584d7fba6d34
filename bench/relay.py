"""Benchmark of the ``backend.run`` relay (not a test): one table, measured in one run.

- the per-call overhead of a 1-qubit ``backend.run`` through the relay against a direct Aer
  call in this process, over ``--runs`` jobs of ``--calls`` calls each (median, min, max);
- the first call of each job against the median call of that job: the job's one-off cost of
  its first call (on an engine that simulates in worker processes, the worker's start-up);
- where the engine has per-job simulation workers, the start-up of one worker alone.

Run: ``.venv/bin/python bench/relay.py [--runs N] [--calls N]``. Needs Docker.
"""

from __future__ import annotations

import argparse
import statistics
import time

from table import print_table

RELAY = """
import time
from qiskit import QuantumCircuit

def main(backend, user_messenger, calls=200):
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    start = time.perf_counter()
    backend.run(circuit, shots=1).result()
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(calls):
        backend.run(circuit, shots=1).result()
    return {"seconds": time.perf_counter() - start, "calls": calls, "first": first}
"""


def spread(samples: list[float], scale: float, unit: str) -> str:
    return (f"{statistics.median(samples) * scale:.2f} {unit} "
            f"(min {min(samples) * scale:.2f}, max {max(samples) * scale:.2f})")


def worker_start_seconds(runs: int) -> list[float] | None:
    """Start-up of one job's simulation worker alone: spawn, limits, ready; ``None`` if the
    engine simulates in its own process."""
    try:
        from engine.backends.simulations import JobSimulations
    except ImportError:
        return None
    from engine.backends import load_backend_policy

    samples = []
    for _ in range(runs + 1):
        simulations = JobSimulations(load_backend_policy())
        start = time.perf_counter()
        simulations.start_worker()
        samples.append(time.perf_counter() - start)
        simulations.close()
    return samples[1:]  # the first also starts the fork server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    from engine.sandbox.images import ensure_runtime_image

    try:
        from engine.program.loader import program_from_source
        from engine.sandbox import run_program
    except ImportError:  # the layout since the one-job-path change
        from engine.loader import program_from_source
        from engine.submission import run_program

    ensure_runtime_image()
    relay = program_from_source(RELAY, entry="relay")
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    backend = AerSimulator()

    def direct_call() -> float:
        start = time.perf_counter()
        backend.run(circuit, shots=1).result()
        return time.perf_counter() - start

    spawn = worker_start_seconds(args.runs)  # before any job, so no forkserver is warm
    run_program(relay, {"calls": 10})  # warm the image, imports and backends once
    overheads, relayed, directs, firsts = [], [], [], []
    for _ in range(args.runs):
        outcome = run_program(relay, {"calls": args.calls})
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        per_call = outcome.result["seconds"] / outcome.result["calls"]
        direct = statistics.median(direct_call() for _ in range(args.calls))
        relayed.append(per_call)
        directs.append(direct)
        overheads.append(per_call - direct)
        firsts.append(outcome.result["first"] - per_call)

    rows = [
        ("backend.run, 1 qubit, direct Aer", spread(directs, 1000, "ms"), ""),
        ("backend.run, 1 qubit, through the relay", spread(relayed, 1000, "ms"), ""),
        ("relay overhead per call", spread(overheads, 1000, "ms"), "target < 1.5 ms"),
        ("first call of a job, beyond a median call", spread(firsts, 1000, "ms"), ""),
    ]
    if spawn is not None:
        rows.append(("one job's simulation worker, start to ready", spread(spawn, 1000, "ms"),
                     ""))
    print(f"{args.runs} jobs of {args.calls} calls each")
    print_table(rows)


if __name__ == "__main__":
    main()
