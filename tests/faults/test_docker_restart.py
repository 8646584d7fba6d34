"""Docker restarted under a running daemon: the running job ends ``sandbox_lost``, queued
jobs wait and then run, ``/readyz`` follows Docker, and no container is left behind.

The daemon runs its sandboxes on the test's own dockerd (:class:`OwnDockerd`), stopped with
SIGTERM by its PID and started again; the shared daemon is never touched.
"""

from __future__ import annotations

import time

import httpx
import pytest

from engine.sandbox.container import LABEL_JOB
from tests.faults.conftest import until
from tests.programs import SLEEPER, SLEEPER_METADATA

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: sandbox_lost_seconds in this test's policy: a job must end within it of Docker going away.
LOST_SECONDS = 10


def _ready(daemon) -> httpx.Response:
    return httpx.get(f"{daemon.url}/readyz", timeout=30)


def test_docker_restart_mid_job(own_dockerd, start_fault_daemon) -> None:
    daemon = start_fault_daemon(
        env={"ENGINE_DOCKER_BASE_URL": own_dockerd.url},
        service={"max_concurrent_jobs": 1, "sandbox_lost_seconds": LOST_SECONDS})
    token = daemon.user("alice")
    with daemon.client(token) as service:
        program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
        running = service.run(program_id, {"seconds": 300})
        queued = service.run(program_id, {"seconds": 0})
        until(lambda: running.interim_results(), 120, "the first job never started")
        assert queued.status() == "QUEUED"
        assert own_dockerd.engine_containers(**{LABEL_JOB: running.job_id()})
        assert _ready(daemon).status_code == 200

        stopped = time.monotonic()
        own_dockerd.stop(wait=False)
        lost_after = until(lambda: running.status() == "ERROR", LOST_SECONDS,
                            "the running job did not end")
        own_dockerd.stop()
        exited_after = time.monotonic() - stopped
        assert running.reason == "sandbox_lost"
        assert "Docker" in running.error_message()
        not_ready = _ready(daemon)
        assert not_ready.status_code == 503
        assert not_ready.headers["content-type"] == "application/problem+json"
        assert not_ready.json()["checks"]["docker"].startswith("failed")
        time.sleep(2)  # queued jobs wait while Docker is away, however often the executor looks
        assert queued.status() == "QUEUED"

        away = time.monotonic() - stopped
        own_dockerd.start()
        restarted = time.monotonic()
        ready_after = until(lambda: _ready(daemon).status_code == 200, 30,
                             "/readyz did not answer 200 again")
        reaped_after = until(
            lambda: not own_dockerd.engine_containers(**{LABEL_JOB: running.job_id()}), 30,
            "the lost job's container was not removed")
        assert queued.result(timeout=120) == "slept"
        ran_after = time.monotonic() - restarted
    # The queued job's container waits for alice's next job (reuse) while the daemon runs;
    # none may outlive the daemon.
    daemon.stop()
    until(lambda: not own_dockerd.engine_containers(), 30, "a sandbox container remained")
    log = daemon.log_text()
    assert "Traceback" not in log, log[-3000:]
    print(f"\ndocker restart: job ended sandbox_lost {lost_after:.1f} s after SIGTERM; "
          f"dockerd exited {exited_after:.1f} s after it; Docker away {away:.1f} s; /readyz 200 "
          f"{ready_after:.1f} s after the restart; the lost container removed "
          f"{reaped_after:.1f} s after that; the queued job done {ran_after:.1f} s after the "
          f"restart")
