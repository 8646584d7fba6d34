"""Benchmark of the sandbox (not a test): one table; every figure is the median, min and max
of repeated runs on this machine.

- hello_world (3 iterations) in-process, in a warm process;
- hello_world sandboxed with a cached image, from a warm host process (target < 0.8 s), with
  a fresh container and with one from the warm pool;
- hello_world's first run, including its per-program image build;
- the per-program image build alone (target < 1 s);
- ``program-engine run`` of hello_world as a fresh process against the same program run
  in-process as a fresh process, taking turns (target: the ratio of the medians <= 1.6x);
- the per-call overhead of ``backend.run`` through the relay against a direct Aer call: the
  median of per-call times through the relay (one sandboxed run per sample) minus the median
  of direct calls (target < 1.5 ms), and the throughput of 1,000 tiny calls;
- peak host memory while a 50 MB ndarray result is relayed (target < 3x the result).

Run: ``.venv/bin/python bench/sandbox.py [--runs N] [--quick]``. Needs Docker; builds images
on demand.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
from table import (
    Figure,
    Target,
    add_quick_flag,
    child_environment,
    interleaved,
    print_figures,
    samples,
)

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "program_source" / "hello_world"

RELAY = """
import time
from qiskit import QuantumCircuit

def main(backend, user_messenger, calls=200):
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    backend.run(circuit, shots=1).result()
    start = time.perf_counter()
    for _ in range(calls):
        backend.run(circuit, shots=1).result()
    return {"seconds": time.perf_counter() - start, "calls": calls}
"""

BIG_RESULT = """
import numpy as np

def main(backend, user_messenger, megabytes=50):
    return np.random.default_rng(1).random(int(megabytes * 1_000_000 / 8))
"""

IN_PROCESS = (
    "from program_source.hello_world import hello_world\n"
    "from qiskit_aer import AerSimulator\n"
    "from engine import UserMessenger\n"
    "hello_world.main(AerSimulator(), UserMessenger(), iterations=3)\n"
)


class PeakRss:
    """Samples this process's resident memory in a thread; ``peak`` is the maximum seen."""

    def __init__(self, interval: float = 0.002) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    add_quick_flag(parser)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    megabytes = 5 if args.quick else 50

    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    from engine.loader import load_program, program_from_source
    from engine.program import CollectingMessenger
    from engine.sandbox.container import ContainerSpec
    from engine.sandbox.docker_client import shared_client as docker_client
    from engine.sandbox.images import ensure_program_image, ensure_runtime_image
    from engine.sandbox.policy import load_sandbox_policy
    from engine.sandbox.pool import WarmPool
    from engine.submission import run_program

    sys.path.insert(0, str(REPO))
    from program_source.hello_world import hello_world

    ensure_runtime_image()
    figures: list[Figure] = []
    hello = load_program(HELLO)
    inputs = {"iterations": 3}

    def checked(outcome):
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        return outcome

    # Warm everything the host needs once (backends, imports, the image).
    checked(run_program(hello, inputs))
    backend = AerSimulator()
    hello_world.main(backend, CollectingMessenger(), **inputs)

    figures.append(Figure("hello_world in-process (warm process)", samples(
        lambda: hello_world.main(backend, CollectingMessenger(), **inputs), runs, scale=1), "s"))
    figures.append(Figure("hello_world sandboxed, cached image (warm process)", samples(
        lambda: checked(run_program(hello, inputs)), runs, scale=1), "s", Target.below(0.8)))
    pool = WarmPool(docker_client(), size=1)
    try:
        pool.fill(ContainerSpec(image=ensure_program_image(hello.files), job_id="bench",
                                profile=load_sandbox_policy().profile()))

        def from_pool():
            deadline = time.monotonic() + 60
            while not pool.ready_count() and time.monotonic() < deadline:
                time.sleep(0.01)  # the replacement of the last one is still starting
            start = time.perf_counter()  # the wait for the replacement is not the job's
            outcome = checked(run_program(hello, inputs, pool=pool))
            assert outcome.metrics["warm_start"]
            return time.perf_counter() - start

        warm = [from_pool() for _ in range(runs)]
    finally:
        pool.close()
    figures.append(Figure("hello_world sandboxed, warm pool (warm_pool_size: 1)", warm, "s",
                          Target.below(0.8)))

    def fresh_source():
        text = HELLO.joinpath("hello_world.py").read_text() + f"\n# {uuid.uuid4().hex}\n"
        return program_from_source(text, metadata=hello.metadata, entry="hello_world")

    figures.append(Figure("hello_world first run, incl. per-program image build", samples(
        lambda: checked(run_program(fresh_source(), inputs)), runs, scale=1), "s"))
    figures.append(Figure("per-program image build", samples(
        lambda: ensure_program_image(fresh_source().files), runs, scale=1), "s",
        Target.below(1)))

    cli = str(Path(sys.executable).with_name("program-engine"))
    env = child_environment(PYTHONPATH=str(REPO))
    fresh = interleaved({
        "cli": lambda: subprocess.run(
            [cli, "run", str(HELLO), "--input", "iterations=3", "--json"],
            check=True, capture_output=True, env=env),
        "in_process": lambda: subprocess.run(
            [sys.executable, "-c", IN_PROCESS], check=True, capture_output=True, cwd=REPO,
            env=env),
    }, runs, scale=1)
    ratio = statistics.median(fresh["cli"]) / statistics.median(fresh["in_process"])
    figures.append(Figure("fresh process: hello_world in-process", fresh["in_process"], "s"))
    figures.append(Figure("fresh process: program-engine run hello_world", fresh["cli"], "s"))
    figures.append(Figure("fresh process: program-engine run / in-process (medians)", [ratio],
                          "x", Target.at_most(1.6), decimals=2,
                          note="one ratio of two medians"))

    relay = program_from_source(RELAY, entry="relay")
    calls = 50 if args.quick else 300
    checked(run_program(relay, {"calls": 10}))
    relayed = []
    for _ in range(runs):
        outcome = checked(run_program(relay, {"calls": calls}))
        relayed.append(outcome.result["seconds"] / outcome.result["calls"] * 1000)
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    direct = samples(lambda: backend.run(circuit, shots=1).result(), calls)
    figures.append(Figure("backend.run, 1 qubit, direct Aer (per call)", direct, "ms",
                          decimals=2))
    figures.append(Figure(f"backend.run, 1 qubit, through the relay (mean of {calls} calls "
                          "per run)", relayed, "ms", decimals=2))
    # Per run: its mean relayed call minus the median direct call; so the median of these is
    # the median relayed call against the median direct one.
    figures.append(Figure("relay overhead per call (relayed - median direct)",
                          [sample - statistics.median(direct) for sample in relayed], "ms",
                          Target.below(1.5), decimals=2, note="each run minus median direct"))
    rates = []
    for _ in range(runs):
        outcome = checked(run_program(relay, {"calls": 1000}))
        rates.append(1000 / outcome.result["seconds"])
    figures.append(Figure("1,000 tiny backend.run calls through the relay", rates, "calls/s",
                          decimals=0))

    big = program_from_source(BIG_RESULT, entry="big_result")
    checked(run_program(big, {"megabytes": 1}))
    relayed_peaks, decoded_peaks = [], []
    for _ in range(runs):
        with PeakRss() as memory:
            outcome = checked(run_program(big, {"megabytes": megabytes}))
        relayed_peaks.append((memory.peak - memory.baseline) / (megabytes * 1e6))
        with PeakRss() as memory:
            array = outcome.result
        decoded_peaks.append((memory.peak - memory.baseline) / (megabytes * 1e6))
        del outcome, array
    figures.append(Figure(f"host memory relaying a {megabytes} MB ndarray result (x result)",
                          relayed_peaks, "x", Target.below(3), decimals=2,
                          note="peak RSS growth in this process"))
    figures.append(Figure("... and decoding it on the host (x result)", decoded_peaks, "x",
                          decimals=2))

    print_figures(figures, title="bench/sandbox.py")


if __name__ == "__main__":
    main()
