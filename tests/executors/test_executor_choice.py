"""Choosing the executor: by argument or by setting; the Ray one needs its address.

No Ray cluster is started here (see ``test_ray.py`` for that).
"""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import ValidationError

from engine.errors import ConfigurationError
from engine.executors.local import LocalExecutor
from engine.executors.ray_executor import RayExecutor
from engine.service import RuntimeService
from engine.settings import Settings

pytestmark = pytest.mark.docker  # opening a service reaps orphaned sandboxes first


def test_the_ray_executor_needs_an_address(tmp_path) -> None:
    settings = Settings(home=tmp_path, executor="ray")
    with pytest.raises(ConfigurationError, match="ray_address"):
        RuntimeService(home=tmp_path, settings=settings)


def test_the_setting_chooses_the_executor(tmp_path) -> None:
    with RuntimeService(home=tmp_path, settings=Settings(home=tmp_path)) as service:
        assert isinstance(service._core.executor, LocalExecutor)
        assert not isinstance(service._core.executor, RayExecutor)


def test_an_unknown_executor_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("ENGINE_EXECUTOR", "kubernetes")
    with pytest.raises(ValidationError, match="executor"):
        Settings()
    monkeypatch.setenv("ENGINE_EXECUTOR", "ray")
    monkeypatch.setenv("ENGINE_RAY_ADDRESS", "10.0.0.1:6379")
    settings = Settings()
    assert (settings.executor, settings.ray_address) == ("ray", "10.0.0.1:6379")


class _Stuck(LocalExecutor):
    """An executor whose job ignores its cancel, and whose result the store refuses."""

    def __init__(self, *args, outcome, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome = outcome
        self.release = threading.Event()

    def job_spec(self, job):
        return job

    def _execute(self, spec, cancel):
        if self.outcome == "stuck":
            self.release.wait(60)  # ignores cancel
        if self.outcome == "slow_store":
            cancel.wait(60)
            return {"status": "CANCELLED", "reason": "user", "metrics": {}}
        return {"status": "DONE", "reason": None, "result": "\ud800", "metrics": {}}

    def _finish(self, job_id, final):
        if self.outcome == "slow_store":
            time.sleep(1)  # a busy database
        super()._finish(job_id, final)


def _queued_job(database):

    with database.write() as tx:
        program = tx.programs.create(name="p", owner="alice", metadata={"name": "p"},
                                     source_hash="0" * 64, entry="p",
                                     files={"p.py": b"def main(b, u):\n    return 1\n"},
                                     is_public=False)
        return tx.jobs.create(program_id=program.id, program_version=1, owner="alice",
                              backend="aer_simulator", inputs="{}").id


def _wait_final(database, job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.read() as tx:
            record = tx.jobs.get(job_id)
        if record.is_final:
            return record
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {record.status}")


def test_a_final_state_the_store_refuses_still_ends_the_job(tmp_path) -> None:
    from engine.events import JobEvents
    from engine.store import open_database

    with open_database(home=tmp_path) as database:
        job_id = _queued_job(database)
        executor = _Stuck(database, JobEvents(), outcome="unstorable", max_concurrent_jobs=1,
                          max_running_per_user=None, poll_seconds=0.05, heartbeat_seconds=5)
        executor.start()
        try:
            record = _wait_final(database, job_id)
        finally:
            executor.shutdown(1)
        assert (record.status.value, record.reason) == ("ERROR", "engine_error")
        assert "could not be stored" in record.error_message
        assert executor.running_jobs() == []


def test_a_cancel_the_worker_ignores_ends_the_job_at_the_deadline(tmp_path) -> None:
    from engine.events import JobEvents
    from engine.store import open_database

    with open_database(home=tmp_path) as database:
        job_id = _queued_job(database)
        executor = _Stuck(database, JobEvents(), outcome="stuck", max_concurrent_jobs=1,
                          max_running_per_user=None, poll_seconds=0.05, heartbeat_seconds=5,
                          cancel_deadline_seconds=0.5)
        executor.start()
        try:
            while executor.running_jobs() != [job_id]:
                time.sleep(0.05)
            executor.cancel(job_id)
            record = _wait_final(database, job_id, timeout=10)
            assert (record.status.value, record.reason) == ("CANCELLED", "user")
            assert executor.running_jobs() == []  # the slot is free again
        finally:
            executor.release.set()
            executor.shutdown(1)


def test_shutdown_returns_only_once_the_cancelled_jobs_final_state_is_stored(tmp_path) -> None:
    from engine.events import JobEvents
    from engine.store import open_database

    with open_database(home=tmp_path) as database:
        job_id = _queued_job(database)
        executor = _Stuck(database, JobEvents(), outcome="slow_store", max_concurrent_jobs=1,
                          max_running_per_user=None, poll_seconds=0.05, heartbeat_seconds=5)
        executor.start()
        while executor.running_jobs() != [job_id]:
            time.sleep(0.05)
        executor.shutdown(0.1)
        with database.read() as tx:
            record = tx.jobs.get(job_id)
        assert (record.status.value, record.reason) == ("CANCELLED", "engine_shutdown")
