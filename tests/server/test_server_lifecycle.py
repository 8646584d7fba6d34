"""The daemon's life: SIGKILL mid-job and a restart; SIGTERM and a graceful shutdown."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from engine.records import JobStatus
from engine.sandbox.container import LABEL_JOB
from engine.store import open_database
from tests.programs import SLEEPER, SLEEPER_METADATA

pytestmark = pytest.mark.docker


def _containers(docker, job_id: str) -> list:
    return docker.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"})


def _wait_started(job, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not job.interim_results():
        assert time.monotonic() < deadline, f"job {job.job_id()} never started"
        time.sleep(0.1)


def test_sigkill_mid_job_then_restart(start_daemon, docker, runtime_image) -> None:
    daemon = start_daemon(service={"max_concurrent_jobs": 1})
    token = daemon.user("alice")
    with daemon.client(token) as service:
        program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
        running = service.run(program_id, {"seconds": 300})
        queued = service.run(program_id, {"seconds": 0})
        _wait_started(running)
        assert queued.status() == "QUEUED"
    assert _containers(docker, running.job_id())

    daemon.signal(signal.SIGKILL)
    assert daemon.wait(timeout=30) == -signal.SIGKILL
    assert _containers(docker, running.job_id())  # orphaned until a restart reaps it

    restarted = start_daemon(home=daemon.home, service={"max_concurrent_jobs": 1})
    with restarted.client(token) as service:
        crashed = service.job(running.job_id())
        assert crashed.status() == "ERROR" and crashed.reason == "engine_restarted"
        assert service.job(queued.job_id()).result(timeout=120) == "slept"
    assert _containers(docker, running.job_id()) == []
    restarted.stop()  # the queued job's container waited for alice's next job (reuse)
    assert _containers(docker, queued.job_id()) == []


def test_sigterm_finishes_running_jobs_within_the_grace(start_daemon, docker,
                                                        runtime_image) -> None:
    grace = 4
    changes = {"service": {"shutdown_grace_seconds": grace, "max_concurrent_jobs": 2,
                           "max_running_per_user": 2},
               "server": {"stream_heartbeat_seconds": 0.5, "drain_seconds": 2}}
    daemon = start_daemon(**changes)
    token = daemon.user("alice")
    with daemon.client(token) as service:
        program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
        quick = service.run(program_id, {"seconds": 2})
        slow = service.run(program_id, {"seconds": 120})
        waiting = service.run(program_id, {"seconds": 0})
        _wait_started(quick)
        _wait_started(slow)
        assert waiting.status() == "QUEUED"

    lines: list[str] = []
    stream_ended = threading.Event()

    def follow() -> None:
        with daemon.http(token).stream("GET", f"/v1/jobs/{slow.job_id()}/stream") as response:
            for line in response.iter_lines():
                lines.append(line)
        stream_ended.set()

    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + 10
    while ": keep-alive" not in lines and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ": keep-alive" in lines  # heartbeats keep an idle stream open

    signalled = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert stream_ended.wait(timeout=5)  # open streams end at once, without a final event
    assert "event: final" not in lines
    refused = False
    while time.monotonic() - signalled < grace - 1 and daemon.process.poll() is None:
        try:
            httpx.get(f"{daemon.url}/healthz", timeout=0.5)
        except httpx.TransportError:
            refused = True  # no new connections while the running jobs get their grace
            break
        time.sleep(0.05)
    assert refused and daemon.process.poll() is None
    assert daemon.wait(timeout=60) == 0  # drained, then a clean exit
    took = time.monotonic() - signalled
    assert grace - 1 < took < grace + 30

    with open_database(home=daemon.home) as database, database.read() as tx:
        ended = {name: tx.jobs.get(job.job_id())
                 for name, job in (("quick", quick), ("slow", slow), ("waiting", waiting))}
    assert ended["quick"].status is JobStatus.DONE
    assert (ended["slow"].status, ended["slow"].reason) == (JobStatus.CANCELLED,
                                                            "engine_shutdown")
    assert ended["waiting"].status is JobStatus.QUEUED
    for job in (quick, slow):
        assert _containers(docker, job.job_id()) == []

    restarted = start_daemon(home=daemon.home, **changes)
    with restarted.client(token) as service:
        assert service.job(waiting.job_id()).result(timeout=120) == "slept"
