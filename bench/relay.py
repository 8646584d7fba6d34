"""Benchmark of the ``backend.run`` relay (not a test): one table, measured in one run.

- the per-call overhead of a 1-qubit ``backend.run`` through the relay against a direct Aer
  call in this process, over ``--runs`` jobs of ``--calls`` calls each (median, min, max);
- the first call of each job against the median call of that job: the job's one-off cost of
  its first call (on an engine that simulates in worker processes, the worker's start-up);
- the host's CPU time per call: this process (the engine) and its descendants (simulation
  workers), which unlike wall time barely depends on what else the machine runs;
- where the engine has per-job simulation workers, the start-up of one worker alone.

Run: ``.venv/bin/python bench/relay.py [--runs N] [--calls N]``. Needs Docker.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import psutil
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


class HostCpu:
    """CPU seconds of this process (less the sampling thread's own) and of its descendants
    (sampled in a thread, since they may end before the block does) over a block."""

    def __init__(self, interval: float = 0.05) -> None:
        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._baseline: dict[int, float] = {}
        self._seen: dict[int, float] = {}
        self._sampler_cpu = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _children(self) -> dict[int, float]:
        seen = {}
        for child in self._me.children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.Error:
                continue
            seen[child.pid] = times.user + times.system
        return seen

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid, cpu in self._children().items():
                self._seen[pid] = max(self._seen.get(pid, 0.0), cpu)
            self._sampler_cpu = time.thread_time()
            time.sleep(self._interval)

    def __enter__(self) -> HostCpu:
        self._baseline = self._children()
        self._start = self._me.cpu_times()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        end = self._me.cpu_times()
        spent = (end.user + end.system) - (self._start.user + self._start.system)
        self.engine = spent - self._sampler_cpu
        self.children = sum(cpu - self._baseline.get(pid, 0.0) for pid, cpu in self._seen.items())


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
        from engine.loader import program_from_source
        from engine.submission import run_program
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
    overheads, relayed, directs, firsts, engine_cpu, host_cpu = [], [], [], [], [], []
    for _ in range(args.runs):
        with HostCpu() as cpu:
            outcome = run_program(relay, {"calls": args.calls})
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        engine_cpu.append(cpu.engine / (args.calls + 1))
        host_cpu.append((cpu.engine + cpu.children) / (args.calls + 1))
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
        ("engine process CPU per call (whole job / calls)", spread(engine_cpu, 1000, "ms"), ""),
        ("host CPU per call, engine + simulation workers", spread(host_cpu, 1000, "ms"), ""),
    ]
    if spawn is not None:
        rows.append(("one job's simulation worker, start to ready", spread(spawn, 1000, "ms"),
                     ""))
    print(f"{args.runs} jobs of {args.calls} calls each; load average "
          f"{', '.join(f'{load:.1f}' for load in psutil.getloadavg())}")
    print_table(rows)


if __name__ == "__main__":
    main()
