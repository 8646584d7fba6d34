"""``run_program`` end to end: samples, interim streaming, cancelling, metrics, orphans.

Every sample under ``program_source/`` runs in the sandbox with its ``inputs.json`` and must
return what it returns when run locally in-process (``tests/program_source_shim.py``). The
samples that take seeds (``sample_program``, ``circuit_runner``, ``vqe``, ``qaoa``) are compared
exactly, result and interim messages as the JSON that travels. ``hello_world`` draws its random
circuits from an unseeded ``random``, so only what does not depend on them is compared: the
result, the number of interim messages and their shape.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import docker.errors as docker_errors
import psutil
import pytest
from program_source_shim import (
    PROGRAM_SOURCE,
    SampleRun,
    load_inputs_text,
    run_sample,
    sample_names,
)
from qiskit_aer import AerSimulator

from engine.process_identity import this_process
from engine.sandbox import InterimMessage
from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB, LABEL_OWNER, reap_orphans
from engine.serialization import RuntimeDecoder

pytestmark = pytest.mark.docker

SAMPLES = sample_names()
SEEDED_SAMPLES = [name for name in SAMPLES if name != "hello_world"]
DEFAULT_SHOTS = 1024  # the shots of a backend.run without a shots option


def _inputs(name: str) -> dict[str, Any]:
    return json.loads(load_inputs_text(name), cls=RuntimeDecoder)


@pytest.fixture(scope="module")
def sandboxed(sandbox) -> Any:
    """Each sample run once in the sandbox with its ``inputs.json``; the runs are shared."""
    runs: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in runs:
            runs[name] = sandbox.run(PROGRAM_SOURCE / name, _inputs(name))
        return runs[name]

    return get


@pytest.fixture(scope="module")
def local() -> Any:
    """Each sample run once locally, in-process, on an ``AerSimulator``."""
    backend = AerSimulator()
    runs: dict[str, SampleRun] = {}

    def get(name: str) -> SampleRun:
        if name not in runs:
            runs[name] = run_sample(name, backend)
        return runs[name]

    return get


# --- samples: the sandbox returns what a local run returns ---------------------------------


def test_every_sample_is_covered() -> None:
    assert {"hello_world", "sample_program", "circuit_runner", "vqe", "qaoa"} <= set(SAMPLES)


@pytest.mark.parametrize("name", SEEDED_SAMPLES)
def test_seeded_sample_returns_the_same_in_the_sandbox(name: str, sandboxed, local) -> None:
    outcome = sandboxed(name).outcome
    here = local(name)

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result_data == here.result_text
    assert outcome.result == here.decoded_result
    assert outcome.interim_data == here.messenger.texts
    assert outcome.interim == here.messenger.decoded()


def test_hello_world_returns_the_same_in_the_sandbox(sandboxed, local) -> None:
    outcome = sandboxed("hello_world").outcome
    here = local("hello_world")
    iterations = _inputs("hello_world")["iterations"]

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == here.decoded_result == "Hello, World!"
    assert [message["iteration"] for message in outcome.interim] == list(range(iterations))
    assert len(outcome.interim) == len(here.messenger.texts)
    for message in outcome.interim:
        assert sum(message["counts"].values()) == DEFAULT_SHOTS


# --- interim messages, cancelling ----------------------------------------------------------

STREAMING = """
import time

def main(backend, user_messenger, count=5, pause=0.1, linger=2.0):
    for step in range(count):
        user_messenger.publish({"step": step})
        time.sleep(pause)
    time.sleep(linger)
    return count
"""

ENDLESS_PUBLISHER = """
import time

def main(backend, user_messenger):
    step = 0
    while True:
        user_messenger.publish({"step": step})
        step += 1
        time.sleep(0.2)
"""


def test_interim_messages_stream_in_order_while_the_job_runs(sandbox, hostile_profile) -> None:
    seen: list[tuple[InterimMessage, float]] = []

    def on_interim(message: InterimMessage) -> None:
        seen.append((message, time.monotonic()))

    run = sandbox.run(STREAMING, {"count": 5}, on_interim=on_interim,
                      profile=hostile_profile, max_execution_time=60)
    ended = time.monotonic()
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == 5
    assert [message.value for message, _ in seen] == [{"step": step} for step in range(5)]
    assert [message.seq for message, _ in seen] == [1, 2, 3, 4, 5]
    assert [json.loads(message.data) for message, _ in seen] == outcome.interim
    # The program lingers 2 s after its last message: each came while it ran, not at its end.
    assert all(ended - arrived > 1.0 for _, arrived in seen), "a message came at the end"
    assert outcome.interim == [message.value for message, _ in seen]


def test_cancel_ends_the_job_as_cancelled_by_user(sandbox, hostile_profile) -> None:
    cancel = threading.Event()
    seen: list[Any] = []

    def on_interim(message: InterimMessage) -> None:
        seen.append(message.value)
        cancel.set()  # cancel once the program is surely running

    max_time = 60.0
    run = sandbox.run(ENDLESS_PUBLISHER, {}, cancel=cancel, on_interim=on_interim,
                      profile=hostile_profile, max_execution_time=max_time)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("CANCELLED", "user")
    assert outcome.result is None
    assert seen[0] == {"step": 0}
    assert outcome.interim[0] == {"step": 0}
    assert run.wall < max_time / 2, run.wall  # ended by the cancel, not by the watchdog


SIMULATING = """
from qiskit import QuantumCircuit

def main(backend, user_messenger, qubits=22, layers=4):
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for q in range(qubits):
            circuit.rx(0.1 * (q + layer + 1), q)
        for start in (0, 1):
            for q in range(start, qubits - 1, 2):
                circuit.cx(q, q + 1)
    circuit.measure_all()
    user_messenger.publish("submitting")
    return backend.run(circuit, shots=10).result().get_counts()
"""

REFUSED_IN_THE_WORKER = """
from qiskit import QuantumCircuit

def main(backend, user_messenger, qubits=40, layers=16):
    circuit = QuantumCircuit(qubits)
    for layer in range(layers):
        for start in (0, 1):
            for q in range(start, qubits - 1, 2):
                circuit.cx(q, q + 1)
    circuit.measure_all()
    try:
        backend.run(circuit, shots=10, method="matrix_product_state").result()
    except Exception as exc:
        return {"type": type(exc).__name__, "limit": getattr(exc, "limit", None)}
    return None
"""


def test_cancel_kills_the_jobs_simulation_worker_at_once(sandbox, hostile_profile) -> None:
    from engine.backends import BackendRegistry

    registry = BackendRegistry()
    cancel = threading.Event()
    killed: list[float] = []

    def busy(pid: int) -> bool:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(pid).cpu_times().user > 0.5
        return False

    def gone(pid: int) -> bool:
        """Exited, whether reaped yet or not (it may go between any two looks)."""
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def cancel_while_simulating() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = registry.worker_pids()
            if pids and busy(pids[0]):
                break
            time.sleep(0.02)
        else:
            return
        pid = pids[0]
        started = time.monotonic()
        cancel.set()
        while not gone(pid):
            if time.monotonic() - started > 10:
                return
            time.sleep(0.01)
        killed.append(time.monotonic() - started)

    watcher = threading.Thread(target=cancel_while_simulating)
    watcher.start()
    try:
        run = sandbox.run(SIMULATING, {}, cancel=cancel, registry=registry,
                          profile=hostile_profile, max_execution_time=120)
    finally:
        cancel.set()
        watcher.join()
        registry.close()
    assert (run.outcome.status, run.outcome.reason) == ("CANCELLED", "user")
    assert killed and killed[0] < 2, f"the worker outlived the cancel: {killed}"
    assert registry.worker_pids() == []


def test_a_refusal_in_the_worker_reaches_the_program_with_its_limit(sandbox) -> None:
    run = sandbox.run(REFUSED_IN_THE_WORKER, {}, max_execution_time=120)
    assert run.outcome.status == "DONE", run.outcome.error
    assert run.outcome.result == {"type": "BackendRejected", "limit": "max_estimated_seconds"}


# --- metrics -------------------------------------------------------------------------------

METRIC_KEYS = {"wall_seconds", "cpu_seconds", "peak_memory_bytes", "backend_calls", "shots"}


def test_metrics_account_for_the_run(sandboxed) -> None:
    run = sandboxed("hello_world")
    metrics = run.outcome.metrics
    iterations = _inputs("hello_world")["iterations"]

    assert set(metrics) >= METRIC_KEYS
    assert 0 < metrics["wall_seconds"] <= run.wall
    assert metrics["cpu_seconds"] > 0
    assert metrics["peak_memory_bytes"] > 16 << 20
    assert metrics["backend_calls"] == iterations
    assert metrics["shots"] == iterations * DEFAULT_SHOTS


def test_metrics_count_shots_of_every_circuit(sandboxed) -> None:
    metrics = sandboxed("circuit_runner").outcome.metrics
    inputs = _inputs("circuit_runner")

    assert metrics["backend_calls"] == 1
    assert metrics["shots"] == inputs["shots"] * len(inputs["circuits"])


LARGE_RESULT = """
def main(backend, user_messenger, megabytes=40):
    return "x" * (megabytes * 1_000_000)
"""


@pytest.mark.parametrize("case", ["large_result", "out_of_memory"])
def test_cpu_and_memory_metrics_survive_the_container(sandbox, hostile_profile, case: str) -> None:
    if case == "large_result":
        run = sandbox.run(LARGE_RESULT, {"megabytes": 40}, profile=hostile_profile,
                          max_execution_time=60)
        assert run.outcome.status == "DONE"
    else:
        run = sandbox.run(sandbox.hostile("memory_bomb"), profile=hostile_profile,
                          max_execution_time=60)
        assert run.outcome.reason == "out_of_memory"
    metrics = run.outcome.metrics

    assert metrics["cpu_seconds"] is not None and metrics["cpu_seconds"] > 0
    assert metrics["peak_memory_bytes"] is not None and metrics["peak_memory_bytes"] > 16 << 20


# --- orphans -------------------------------------------------------------------------------


def test_reap_orphans_removes_containers_whose_owner_is_gone(docker, runtime_image: str) -> None:
    host = socket.gethostname()
    me = this_process()
    _, pid, started = me.rsplit(":", 2)
    boot, _, since_boot = started.rpartition("-")
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    owners = {
        "gone": f"{host}:{pid_max + 1}:0",  # no process can have this PID
        # this PID, another process (started a minute earlier in this boot)
        "recycled": f"{host}:{pid}:{boot}-{int(since_boot) - 60_000}",
        "alive": me,
        "elsewhere": f"elsewhere-{uuid.uuid4().hex[:6]}:{pid}:{started}",  # not ours to judge
    }
    jobs = {kind: f"test-orphan-{kind}-{uuid.uuid4().hex[:8]}" for kind in owners}
    created = {}
    try:
        for kind, owner in owners.items():
            container = docker.containers.create(
                runtime_image, ["true"], network_mode="none",
                labels={LABEL_ENGINE: "1", LABEL_JOB: jobs[kind], LABEL_OWNER: owner},
            )
            created[kind] = container.id

        removed = set(reap_orphans(docker))

        assert {jobs["gone"], jobs["recycled"]} <= removed
        assert not {jobs["alive"], jobs["elsewhere"]} & removed
        assert not _exists(docker, created["gone"])
        assert not _exists(docker, created["recycled"])
        assert _exists(docker, created["alive"])
        assert _exists(docker, created["elsewhere"])

        # With a job registry, its word decides (here: only the "alive" job is unknown).
        removed = reap_orphans(docker, is_live=lambda job_id: job_id != jobs["alive"])
        assert removed == [jobs["alive"]]
        assert not _exists(docker, created["alive"])
        assert _exists(docker, created["elsewhere"])
    finally:
        for container_id in created.values():
            with contextlib.suppress(docker_errors.NotFound):
                docker.api.remove_container(container_id, force=True)


def _exists(docker: Any, container_id: str) -> bool:
    try:
        docker.api.inspect_container(container_id)
    except docker_errors.NotFound:
        return False
    return True


# --- afterwards ----------------------------------------------------------------------------


def test_no_sandbox_container_is_left_and_docker_answers(sandbox, docker) -> None:
    """Runs last in this module: every container this process created is gone."""
    assert docker.ping()
    assert sandbox.containers() == []
