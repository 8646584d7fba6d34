"""Reused sandboxes: one user's jobs of one program version, a fresh process each.

Every job here runs the same program (:data:`TRACES`), so that consecutive jobs share its
version and may share a container; ``mode`` says what the job does. A job learns its
container's id from ``/proc/self/mountinfo`` (Docker bind-mounts ``/etc/hostname`` from the
container's folder, named by its id), so the tests compare real container ids.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from engine.loader import load_program_input
from engine.sandbox.execution import default_registry, run_job
from engine.sandbox.pool import WarmPool
from engine.submission import build_job_spec

pytestmark = pytest.mark.docker

TRACES = '''
import os, random, re, signal, socket, subprocess, sys, time
import numpy
import qiskit

KEEP = []

def container_id():
    with open("/proc/self/mountinfo") as handle:
        ids = re.findall(r"/containers/([0-9a-f]{64})/hostname ", handle.read())
    return ids[0] if ids else None

def processes():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, os.getpid(), os.getppid()):
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    found.append(handle.read().replace(b"\\0", b" ").decode().strip())
            except OSError:
                pass
    return found

def sockets():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.append(target)
    return found

def main(backend, user_messenger, mode="look"):
    seen = {"container": container_id(), "random": random.random(),
            "numpy": float(numpy.random.random()), "pid": os.getpid()}
    if mode == "leave":
        with open("/tmp/left.txt", "w") as handle:
            handle.write("job 1")
        os.mkdir("/tmp/locked")
        open("/tmp/locked/inside", "w").close()
        os.chmod("/tmp/locked", 0)
        with open("/dev/shm/left", "wb") as handle:
            handle.write(b"x" * 1024)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
        os.environ["LEFT_BY_JOB_1"] = "yes"
        qiskit.transpile = lambda *args, **kwargs: "patched"
        KEEP.extend(socket.socketpair())
        seen["sockets"] = sockets()
        seen["processes"] = processes()
    elif mode == "look":
        seen.update(tmp=sorted(os.listdir("/tmp")), shm=sorted(os.listdir("/dev/shm")),
                    processes=processes(), env=os.environ.get("LEFT_BY_JOB_1"),
                    transpile=qiskit.transpile.__module__, keep=len(KEEP),
                    sockets=sockets())
    elif mode == "kill_server":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
    elif mode == "kill_pid1":
        try:
            os.kill(1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.2)
    elif mode == "oom":
        hog = []
        while True:
            hog.append(bytearray(64 << 20))
    elif mode == "sleep":
        time.sleep(30)
    return seen
'''


@pytest.fixture(scope="module")
def program() -> Any:
    return load_program_input(TRACES)


@pytest.fixture()
def pool(docker: Any, runtime_image: str) -> Any:
    pool = WarmPool(docker, size=1, reuse=True, max_jobs=10, idle_seconds=120)
    yield pool
    pool.close()


def _run(program: Any, pool: WarmPool, mode: str = "look", *, user: str = "alice",
         profile: Any = None, max_execution_time: float = 60, **kwargs: Any) -> Any:
    spec = build_job_spec(
        job_id=f"test-{uuid.uuid4().hex[:12]}", user=user, entry=program.entry,
        files=program.files, metadata=None, inputs={"mode": mode}, options={},
        registry=default_registry(), program_id="traces", program_version=1,
        max_execution_time=max_execution_time, resources=profile,
    )
    return run_job(spec, pool=pool, **kwargs)


def test_nothing_crosses_from_one_job_to_the_next(program, pool) -> None:
    first = _run(program, pool, "leave")
    assert (first.status, first.reason) == ("DONE", None), first.error
    left = first.result
    assert len(left["sockets"]) == 2 and any("time.sleep(600)" in p for p in left["processes"])

    second = _run(program, pool, "look")
    assert (second.status, second.reason) == ("DONE", None), second.error
    seen = second.result
    assert seen["container"] == left["container"] and second.metrics["reused"] is True
    assert seen["tmp"] == [] and seen["shm"] == []
    assert seen["processes"] == []  # the background sleeper is gone
    assert seen["env"] is None
    assert seen["transpile"].startswith("qiskit")  # not the lambda job 1 put there
    assert seen["keep"] == 0 and seen["sockets"] == []
    assert seen["pid"] != left["pid"]  # a fresh process
    # Two jobs of one user draw different random numbers, from random and from NumPy.
    assert seen["random"] != left["random"] and seen["numpy"] != left["numpy"]
    # Each job's accounting is its own: the second does not carry the first's CPU time (the
    # first's includes the container's start and Qiskit's import).
    assert 0 < second.metrics["cpu_seconds"] < first.metrics["cpu_seconds"]
    assert second.metrics["peak_memory_bytes"] > 16 << 20


def test_two_users_never_share_a_container(program, pool) -> None:
    alice = _run(program, pool, user="alice")
    bob = _run(program, pool, user="bob")
    alice_again = _run(program, pool, user="alice")
    for outcome in (alice, bob, alice_again):
        assert outcome.status == "DONE", outcome.error
    assert bob.result["container"] != alice.result["container"]
    assert bob.metrics["reused"] is False
    assert alice_again.result["container"] == alice.result["container"]
    assert alice_again.metrics["reused"] is True


def test_a_job_that_kills_the_server_ends_and_the_next_gets_a_fresh_container(
    program, pool
) -> None:
    before = _run(program, pool)
    killer = _run(program, pool, "kill_server")
    assert (killer.status, killer.reason) == ("ERROR", "sandbox_crashed"), killer.error
    after = _run(program, pool)
    assert after.status == "DONE", after.error
    assert after.result["container"] != before.result["container"]
    assert after.metrics["reused"] is False


def test_killing_pid_1_leaves_the_container_serving(program, pool) -> None:
    killer = _run(program, pool, "kill_pid1")
    assert (killer.status, killer.reason) == ("DONE", None), killer.error
    after = _run(program, pool)
    assert after.status == "DONE", after.error
    assert after.result["container"] == killer.result["container"]  # init ignored it


def test_out_of_memory_then_a_normal_job_in_a_fresh_container(
    program, pool, hostile_profile
) -> None:
    first = _run(program, pool, profile=hostile_profile)
    bomb = _run(program, pool, "oom", profile=hostile_profile)
    assert (bomb.status, bomb.reason) == ("ERROR", "out_of_memory"), bomb.error
    assert bomb.metrics["peak_memory_bytes"] == int(hostile_profile.memory)
    after = _run(program, pool, profile=hostile_profile)
    assert (after.status, after.reason) == ("DONE", None), after.error
    assert after.result["container"] != first.result["container"]
    assert after.metrics["reused"] is False


def test_a_cancelled_job_ends_cancelled_and_its_container_goes(program, pool) -> None:
    import threading

    first = _run(program, pool)
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    cancelled = _run(program, pool, "sleep", cancel=cancel)
    assert (cancelled.status, cancelled.reason) == ("CANCELLED", "user"), cancelled.error
    too_long = _run(program, pool, "sleep", max_execution_time=1)
    assert (too_long.status, too_long.reason) == ("CANCELLED", "ran_too_long")
    after = _run(program, pool)
    assert after.status == "DONE", after.error
    assert after.result["container"] != first.result["container"]
    assert pool.ready_count() == 1  # only the last job's container waits
