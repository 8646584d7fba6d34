"""Benchmark of the sandbox (not a test): one table, measured in one run on this machine.

- hello_world (3 iterations) in-process, in a warm process;
- hello_world sandboxed with a cached image, from a warm host process (target < 0.8 s), with
  a fresh container and with one from the warm pool;
- hello_world's first run, including its per-program image build;
- the per-program image build alone (target < 1 s);
- ``program-engine run`` of hello_world as a fresh process against the same program run
  in-process as a fresh process (target: no slower than 1.6x);
- the per-call overhead of ``backend.run`` through the relay against a direct Aer call
  (target < 1.5 ms), and the throughput of 1,000 tiny calls;
- peak host memory while a 50 MB ndarray result is relayed (target < 3x the result).

Run: ``.venv/bin/python bench/sandbox.py [--runs N]``. Needs Docker; builds images on demand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
from table import print_table

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


def median_seconds(function, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


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
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = args.runs

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
    rows: list[tuple[str, str, str]] = []
    hello = load_program(HELLO)
    inputs = {"iterations": 3}

    def checked(outcome):
        assert outcome.status == "DONE", (outcome.reason, outcome.error)
        return outcome

    # Warm everything the host needs once (backends, imports, the image).
    checked(run_program(hello, inputs))
    backend = AerSimulator()
    hello_world.main(backend, CollectingMessenger(), **inputs)

    in_process = median_seconds(
        lambda: hello_world.main(backend, CollectingMessenger(), **inputs), runs
    )
    rows.append(("hello_world in-process (warm process)", f"{in_process:.3f} s", ""))
    sandboxed = median_seconds(lambda: checked(run_program(hello, inputs)), runs)
    rows.append(("hello_world sandboxed, cached image (warm process)", f"{sandboxed:.3f} s",
                 "target < 0.8 s"))
    pool = WarmPool(docker_client(), size=1)
    try:
        pool.fill(ContainerSpec(image=ensure_program_image(hello.files), job_id="bench",
                                profile=load_sandbox_policy().profile()))

        def from_pool():
            deadline = time.monotonic() + 60
            while not pool.ready_count() and time.monotonic() < deadline:
                time.sleep(0.01)  # the replacement of the last one is still starting
            outcome = checked(run_program(hello, inputs, pool=pool))
            assert outcome.metrics["warm_start"]

        warm = median_seconds(from_pool, runs)
    finally:
        pool.close()
    rows.append(("hello_world sandboxed, warm pool (warm_pool_size: 1)", f"{warm:.3f} s",
                 "target < 0.8 s"))

    def fresh_source():
        text = HELLO.joinpath("hello_world.py").read_text() + f"\n# {uuid.uuid4().hex}\n"
        return program_from_source(text, metadata=hello.metadata, entry="hello_world")

    first = median_seconds(lambda: checked(run_program(fresh_source(), inputs)), runs)
    rows.append(("hello_world first run, incl. per-program image build", f"{first:.3f} s", ""))
    build = median_seconds(lambda: ensure_program_image(fresh_source().files), runs)
    rows.append(("per-program image build", f"{build:.3f} s", "target < 1 s"))

    cli = str(REPO / ".venv" / "bin" / "program-engine")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    fresh_cli = median_seconds(
        lambda: subprocess.run([cli, "run", str(HELLO), "--input", "iterations=3", "--json"],
                               check=True, capture_output=True, env=env), runs)
    fresh_in_process = median_seconds(
        lambda: subprocess.run([sys.executable, "-c", IN_PROCESS], check=True,
                               capture_output=True, cwd=REPO, env=env), runs)
    rows.append(("fresh process: hello_world in-process", f"{fresh_in_process:.3f} s", ""))
    rows.append(("fresh process: program-engine run hello_world", f"{fresh_cli:.3f} s",
                 f"{fresh_cli / fresh_in_process:.2f}x (target <= 1.6x)"))

    relay = program_from_source(RELAY, entry="relay")
    outcome = checked(run_program(relay, {"calls": 300}))
    relayed = outcome.result["seconds"] / outcome.result["calls"]
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    direct = median_seconds(lambda: backend.run(circuit, shots=1).result(), 300)
    rows.append(("backend.run, 1 qubit, direct Aer", f"{direct * 1000:.2f} ms", ""))
    rows.append(("backend.run, 1 qubit, through the relay", f"{relayed * 1000:.2f} ms", ""))
    rows.append(("relay overhead per call", f"{(relayed - direct) * 1000:.2f} ms",
                 "target < 1.5 ms"))
    outcome = checked(run_program(relay, {"calls": 1000}))
    rows.append(("1,000 tiny backend.run calls through the relay",
                 f"{1000 / outcome.result['seconds']:.0f} /s", ""))

    big = program_from_source(BIG_RESULT, entry="big_result")
    checked(run_program(big, {"megabytes": 1}))
    with PeakRss() as memory:
        outcome = checked(run_program(big, {"megabytes": 50}))
    relayed_peak = memory.peak - memory.baseline
    rows.append(("host memory relaying a 50 MB ndarray result",
                 f"{relayed_peak / 1e6:.0f} MB", f"{relayed_peak / 50e6:.2f}x (target < 3x)"))
    with PeakRss() as memory:
        array = outcome.result
    rows.append(("... and decoding it on the host",
                 f"{(memory.peak - memory.baseline) / 1e6:.0f} MB", f"shape {array.shape}"))

    print_table(rows)


if __name__ == "__main__":
    main()
