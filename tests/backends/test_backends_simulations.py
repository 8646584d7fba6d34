"""Each job's simulations in a worker process of its own: real processes, real Aer.

The engine process (this test process) must keep running while a worker simulates, must end
a job's simulations at once, and must pay nothing for a decoding bomb but a refusal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from backend_circuits import bell, brickwork, nested_definition_bomb, qpy_b64
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from engine.backends import BackendRegistry, JobEnded, JobUsage, load_backend_policy
from engine.errors import BackendRejected
from engine.serialization import RuntimeDecoder

REPO = Path(__file__).resolve().parents[2]
HEAVY = brickwork(22, 4)  # admitted, and several seconds of simulation on one core
MiB = 1 << 20


def _policy(**sections):
    policy = load_backend_policy()
    return policy.model_copy(update={
        name: getattr(policy, name).model_copy(update=values) for name, values in sections.items()
    })


@pytest.fixture
def registry():
    registry = BackendRegistry()
    yield registry
    registry.close()


def _simulating(usage: JobUsage, cpu_seconds: float = 0.3, timeout: float = 60) -> int:
    """The job's worker PID once it has spent ``cpu_seconds`` simulating."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = usage.simulations.worker_pid if usage.simulations else None
        if pid is not None:
            with_cpu = psutil.Process(pid).cpu_times()
            if with_cpu.user + with_cpu.system >= cpu_seconds:
                return pid
        time.sleep(0.02)
    raise AssertionError("the worker never started simulating")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_results_match_a_direct_aer_run(registry):
    usage = JobUsage()
    circuit = brickwork(5, 2)
    future = registry.submit("aer_simulator", qpy_b64(circuit, bell(3)),
                             {"shots": 500, "seed_simulator": 11}, usage)
    relayed = json.loads(future.result(timeout=120), cls=RuntimeDecoder)
    direct = AerSimulator().run([circuit, bell(3)], shots=500, seed_simulator=11).result()
    assert relayed.get_counts() == direct.get_counts()
    assert usage.simulations.worker_pid is not None  # the job's worker, kept for its next call
    assert usage.simulations.worker_pid not in (None, psutil.Process().pid)
    usage.close()


def test_many_concurrent_calls_of_one_job_each_get_their_own_result(registry):
    usage = JobUsage()
    futures: dict[int, object] = {}
    lock = threading.Lock()

    def submit_some(first: int) -> None:
        for shots in range(first, first + 10):
            future = registry.submit("aer_simulator", qpy_b64(bell()), {"shots": shots}, usage)
            with lock:
                futures[shots] = future

    threads = [threading.Thread(target=submit_some, args=(1 + 10 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for shots, future in futures.items():
        counts = json.loads(future.result(timeout=120), cls=RuntimeDecoder).get_counts()
        assert sum(counts.values()) == shots and set(counts) <= {"00", "11"}
    assert len(futures) == 40 and usage.calls == 40
    assert usage.simulations.workers_started == 1  # one worker served the whole job
    usage.close()


def test_the_engine_keeps_running_while_its_worker_simulates(registry):
    usage = JobUsage()
    future = registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
    pid = _simulating(usage)
    gaps, last = [], time.monotonic()
    while not future.done() and len(gaps) < 300:  # up to about 3 s of the simulation
        time.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    assert len(gaps) >= 100, "the simulation ended too soon to observe (make HEAVY heavier)"
    assert max(gaps) < 0.5, f"this process stalled {max(gaps):.2f} s while the worker ran"
    assert psutil.Process(pid).cpu_times().user > 0.5  # the worker did the simulating
    usage.close()


def test_ending_a_job_kills_its_simulating_worker_at_once(registry):
    usage = JobUsage()
    running = registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
    queued = registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
    pid = _simulating(usage)
    started = time.monotonic()
    registry.end_job(usage)
    while not _gone(pid):
        assert time.monotonic() - started < 2, "the worker outlived its job by 2 s"
        time.sleep(0.01)
    for future in (running, queued):
        with pytest.raises(JobEnded):
            future.result(timeout=5)
    registry.end_job(usage)  # idempotent
    with pytest.raises(JobEnded):
        registry.submit("aer_simulator", qpy_b64(bell()), {}, usage)
    assert pid not in registry.worker_pids()


def test_a_call_past_its_time_limit_kills_the_worker_and_the_next_call_runs():
    registry = BackendRegistry(_policy(per_job={"max_seconds_per_call": 1.5}))
    usage = JobUsage()
    try:
        slow = registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
        pid = _simulating(usage, cpu_seconds=0)  # its worker, seen before the limit ends it
        with pytest.raises(BackendRejected) as caught:
            slow.result(timeout=30)
        assert caught.value.limit == "per_job.max_seconds_per_call"
        assert _gone(pid)
        fast = registry.submit("aer_simulator", qpy_b64(bell()), {"shots": 10}, usage)
        assert sum(json.loads(fast.result(timeout=60), cls=RuntimeDecoder)
                   .get_counts().values()) == 10
        assert usage.simulations.workers_started == 2
        assert usage.calls == 1  # the refused call was given back
    finally:
        registry.close()


def test_a_job_past_its_cpu_budget_is_stopped_and_refused():
    registry = BackendRegistry(_policy(per_job={"max_cpu_seconds": 2}))
    usage = JobUsage()
    try:
        first = registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
        with pytest.raises(BackendRejected) as caught:
            first.result(timeout=60)
        assert caught.value.limit == "per_job.max_cpu_seconds"
        with pytest.raises(BackendRejected) as caught:
            registry.submit("aer_simulator", qpy_b64(bell()), {"shots": 1}, usage)
        assert caught.value.limit == "per_job.max_cpu_seconds"
    finally:
        registry.close()


def test_calls_in_flight_are_bounded_per_job():
    registry = BackendRegistry(_policy(per_job={"max_calls_in_flight": 2}))
    usage = JobUsage()
    try:
        for _ in range(2):
            registry.submit("aer_simulator", qpy_b64(HEAVY), {"shots": 10}, usage)
        with pytest.raises(BackendRejected) as caught:
            registry.submit("aer_simulator", qpy_b64(bell()), {"shots": 10}, usage)
        assert caught.value.limit == "per_job.max_calls_in_flight"
        assert usage.calls == 2
    finally:
        registry.close()


def test_a_nested_definition_bomb_costs_the_engine_nothing_but_a_refusal(registry):
    bomb = nested_definition_bomb()
    assert len(bomb) * 3 // 4 < 600  # a few hundred bytes claiming 12 million qubits
    engine = psutil.Process()
    before = engine.memory_info().rss
    usage = JobUsage()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], engine.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        future = registry.submit("aer_simulator", [bomb], {"shots": 1}, usage)
        with pytest.raises(BackendRejected) as caught:
            future.result(timeout=120)
    finally:
        stop.set()
        sampler.join()
    # Refused in the worker, at its decoding budget.
    assert caught.value.limit == "worker.max_decode_bytes"
    assert peak[0] - before < 64 * MiB, f"the engine grew {(peak[0] - before) / MiB:.0f} MiB"
    # The job goes on: its next call gets a worker and runs.
    after = registry.submit("aer_simulator", qpy_b64(bell()), {"shots": 5}, usage)
    assert sum(json.loads(after.result(timeout=60), cls=RuntimeDecoder)
               .get_counts().values()) == 5
    usage.close()


def test_many_empty_wide_circuits_are_refused_before_decoding(registry):
    circuits = qpy_b64(*[QuantumCircuit(16384)] * 300)
    engine = psutil.Process()
    before = engine.memory_info().rss
    usage = JobUsage()
    started = time.monotonic()
    with pytest.raises(BackendRejected) as caught:
        registry.submit("aer_simulator", circuits, {"shots": 1}, usage)
    assert caught.value.limit == "max_qubits.automatic"
    assert time.monotonic() - started < 5
    assert engine.memory_info().rss - before < 64 * MiB
    assert usage.simulations is None  # no worker was needed to refuse it


EMBEDDING_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
with open({marker!r}, "a") as runs:
    runs.write("ran\\n")
from backend_circuits import bell, qpy_b64
from engine.backends import BackendRegistry, JobUsage
registry, usage = BackendRegistry(), JobUsage()
print(len(registry.submit("aer_simulator", qpy_b64(bell()), {{"shots": 3}}, usage).result(120)))
usage.close()
"""


def test_starting_a_worker_does_not_run_an_embedding_script_again(tmp_path):
    # A script without a main guard, as an embedding application may be written: spawn-style
    # multiprocessing would run it again in every worker.
    marker = tmp_path / "runs.txt"
    script = tmp_path / "embedding.py"
    script.write_text(EMBEDDING_SCRIPT.format(tests=str(Path(__file__).parent),
                                              marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 100  # a Result's JSON came back
    assert marker.read_text() == "ran\n"
