"""Warm sandboxes: started ahead of time, taken by a run, replaced in the background."""

from __future__ import annotations

import time

import pytest

from engine.loader import load_program
from engine.process_identity import this_process
from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB, LABEL_OWNER
from engine.sandbox.pool import WarmPool
from engine.submission import run_program

pytestmark = pytest.mark.docker

HELLO = "program_source/hello_world"


def _warm_containers(docker) -> list:
    mine = docker.containers.list(
        all=True, filters={"label": [LABEL_ENGINE, f"{LABEL_OWNER}={this_process()}"]}
    )
    return [c for c in mine if c.labels.get(LABEL_JOB, "").startswith("warm-")]


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_warm_container_runs_the_next_job_and_is_replaced(docker):
    program = load_program(HELLO)
    pool = WarmPool(docker, size=1)
    try:
        cold = run_program(program, {"iterations": 1}, pool=pool)
        assert cold.status == "DONE" and cold.metrics["warm_start"] is False
        _wait_for(lambda: len(_warm_containers(docker)) == 1)

        warm = run_program(program, {"iterations": 2}, pool=pool)
        assert warm.status == "DONE", warm.error
        assert warm.metrics["warm_start"] is True
        assert warm.result == "Hello, World!" and len(warm.interim) == 2
        _wait_for(lambda: len(_warm_containers(docker)) == 1)  # replaced in the background
    finally:
        pool.close()
    _wait_for(lambda: _warm_containers(docker) == [])


def test_a_warm_container_is_still_locked_down(docker):
    probe = (
        "import os\n"
        "def main(backend, user_messenger, **kwargs):\n"
        "    return {'uid': os.getuid(), 'net': sorted(os.listdir('/sys/class/net'))}\n"
    )
    pool = WarmPool(docker, size=1)
    try:
        run_program(probe, {}, pool=pool)
        _wait_for(lambda: len(_warm_containers(docker)) == 1)
        outcome = run_program(probe, {}, pool=pool)
        assert outcome.metrics["warm_start"] is True
        assert outcome.result == {"uid": 10001, "net": ["lo"]}
    finally:
        pool.close()
