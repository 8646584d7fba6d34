"""Warm sandboxes: started ahead of time, taken by a run, replaced in the background.

A program learns which container it runs in from ``/proc/self/mountinfo`` (Docker bind-mounts
``/etc/hostname`` from the container's own folder, named by its id), so the tests compare
real container ids: the one the pool held, the one the job ran in, and its replacement.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from docker.errors import NotFound

from engine.loader import load_program
from engine.process_identity import this_process
from engine.sandbox import load_sandbox_policy
from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB, LABEL_OWNER
from engine.sandbox.pool import WarmPool
from engine.submission import run_program

pytestmark = pytest.mark.docker

HELLO = "program_source/hello_world"
PROBE = (
    "import os, re, time\n"
    "def main(backend, user_messenger, seconds=0, **kwargs):\n"
    "    time.sleep(seconds)\n"
    "    with open('/proc/self/mountinfo') as handle:\n"
    "        ids = re.findall(r'/containers/([0-9a-f]{64})/hostname ', handle.read())\n"
    "    return {'container': ids[0] if ids else None, 'uid': os.getuid(),\n"
    "            'net': sorted(os.listdir('/sys/class/net'))}\n"
)
# What makes a container locked down; a warm one must match a fresh one in every field.
HOST_CONFIG_FIELDS = [
    "ReadonlyRootfs", "Privileged", "CapAdd", "CapDrop", "SecurityOpt", "NetworkMode",
    "Memory", "MemorySwap", "NanoCpus", "CpuQuota", "PidsLimit", "Ulimits", "Tmpfs", "ShmSize",
    "Init", "IpcMode", "PidMode", "UsernsMode", "CgroupnsMode", "Binds", "Mounts", "Devices",
    "Runtime", "MaskedPaths", "ReadonlyPaths", "LogConfig", "OomKillDisable",
]
CONFIG_FIELDS = ["User", "Env", "Image", "Volumes"]


def _warm_containers(docker) -> list:
    mine = docker.containers.list(
        all=True, filters={"label": [LABEL_ENGINE, f"{LABEL_OWNER}={this_process()}"]}
    )
    return [c for c in mine if c.labels.get(LABEL_JOB, "").startswith("warm-")]


def _warm_ids(docker) -> list[str]:
    return [c.id for c in _warm_containers(docker)]


def _gone(docker, container_id: str) -> bool:
    try:
        docker.containers.get(container_id)
    except NotFound:
        return True
    return False


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _lockdown(attrs: dict) -> dict:
    host, config = attrs["HostConfig"], attrs["Config"]
    return {**{f"HostConfig.{k}": host.get(k) for k in HOST_CONFIG_FIELDS},
            **{f"Config.{k}": config.get(k) for k in CONFIG_FIELDS}}


def test_a_warm_container_runs_the_next_job_and_is_replaced(docker):
    program = load_program(HELLO)
    pool = WarmPool(docker, size=1)
    try:
        cold = run_program(program, {"iterations": 1}, pool=pool)
        assert cold.status == "DONE" and cold.metrics["warm_start"] is False
        _wait_for(lambda: pool.ready_count() == 1)
        [held] = _warm_ids(docker)

        warm = run_program(program, {"iterations": 2}, pool=pool)
        assert warm.status == "DONE", warm.error
        assert warm.metrics["warm_start"] is True
        assert warm.result == "Hello, World!" and len(warm.interim) == 2
        _wait_for(lambda: pool.ready_count() == 1)  # replaced in the background
        [replacement] = _warm_ids(docker)
        assert replacement != held
        assert _gone(docker, held)  # the container that ran the job was removed
    finally:
        pool.close()
    _wait_for(lambda: _warm_containers(docker) == [])


def test_each_job_gets_a_container_of_its_own(docker):
    pool = WarmPool(docker, size=1)
    try:
        first = run_program(PROBE, {}, pool=pool)
        assert first.status == "DONE" and first.metrics["warm_start"] is False, first.error
        ran_in = [first.result["container"]]
        for _ in range(2):
            _wait_for(lambda: pool.ready_count() == 1)
            [held] = _warm_ids(docker)
            outcome = run_program(PROBE, {}, pool=pool)
            assert outcome.status == "DONE", outcome.error
            assert outcome.metrics["warm_start"] is True
            assert outcome.result["container"] == held  # it ran in the container held warm
            ran_in.append(held)
            _wait_for(lambda held=held: _gone(docker, held))
        assert all(len(cid or "") == 64 for cid in ran_in), ran_in
        assert len(set(ran_in)) == 3, ran_in  # three jobs, three containers
    finally:
        pool.close()
    _wait_for(lambda: _warm_containers(docker) == [])


def test_a_warm_container_is_as_locked_down_as_a_fresh_one(docker):
    # A fresh container, inspected while its job runs.
    job_id = f"test-{uuid.uuid4().hex[:12]}"
    outcomes = []
    runner = threading.Thread(target=lambda: outcomes.append(
        run_program(PROBE, {"seconds": 3}, job_id=job_id)))
    runner.start()
    try:
        found: list = []
        _wait_for(lambda: found.extend(docker.containers.list(
            filters={"label": f"{LABEL_JOB}={job_id}"})) or found)
        fresh = found[0].attrs
    finally:
        runner.join()
    assert outcomes[0].status == "DONE", outcomes[0].error
    assert outcomes[0].metrics["warm_start"] is False
    assert outcomes[0].result["container"] == fresh["Id"]

    pool = WarmPool(docker, size=1)
    try:
        run_program(PROBE, {}, pool=pool)
        _wait_for(lambda: pool.ready_count() == 1)
        [held] = _warm_containers(docker)
        warm = docker.api.inspect_container(held.id)
        outcome = run_program(PROBE, {}, pool=pool)
        assert outcome.metrics["warm_start"] is True
        assert outcome.result == {"container": held.id, "uid": 10001, "net": ["lo"]}
    finally:
        pool.close()

    assert warm["Id"] != fresh["Id"]
    assert _lockdown(warm) == _lockdown(fresh)
    host = warm["HostConfig"]
    memory = int(load_sandbox_policy().profile("default").memory)
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == memory
    assert host["PidsLimit"] > 0 and host["NanoCpus"] > 0
    assert warm["Config"]["User"] == "10001:10001"
