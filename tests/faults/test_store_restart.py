"""PostgreSQL restarted under a running daemon: requests during the outage get 503 with a
problem document, the daemon reconnects by itself, and no job or interim message is lost,
run twice, or left ``RUNNING``.

The store is the test's own cluster (:class:`OwnPostgres`), stopped (fast shutdown) and
started again by its PID; the shared cluster is never touched.
"""

from __future__ import annotations

import time

import pytest

from engine.records import JobStatus
from engine.store import open_database
from tests.faults.conftest import until
from tests.server.conftest import TICKER, TICKER_METADATA

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.slow]

COUNT = 24  # interim messages of the ticking job, one every INTERVAL seconds
INTERVAL = 0.25
OUTAGE_SECONDS = 3


def test_database_restart_under_a_running_daemon(own_postgres, start_fault_daemon,
                                                  runtime_image) -> None:
    daemon = start_fault_daemon(env={"ENGINE_DATABASE_URL": own_postgres.url},
                                service={"max_concurrent_jobs": 1})
    token = daemon.user("alice")
    with daemon.client(token) as service, daemon.http(token) as http:
        program_id = service.upload_program(TICKER, TICKER_METADATA)
        ticking = service.run(program_id, {"count": COUNT, "interval": INTERVAL})
        queued = service.run(program_id, {"count": 2, "interval": 0})
        until(lambda: len(ticking.interim_results()) >= 3, 120, "the job never published")

        own_postgres.stop()
        stopped = time.monotonic()
        during = http.get(f"/v1/jobs/{ticking.job_id()}")
        assert during.status_code == 503, during.text
        assert during.headers["content-type"] == "application/problem+json"
        problem = during.json()
        assert problem["error"] == "StoreUnavailable"
        assert problem["type"] == "urn:program-engine:problem:store-unavailable"
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"].startswith("failed")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))

        own_postgres.start()
        restarted = time.monotonic()
        answered_after = until(
            lambda: http.get(f"/v1/jobs/{ticking.job_id()}").status_code == 200, 30,
            "the daemon did not answer again")
        assert ticking.result(timeout=120) == COUNT
        assert [message["tick"] for message in ticking.interim_results()] == list(range(COUNT))
        assert ticking.metrics()["interim_dropped"] == 0
        assert queued.result(timeout=120) == 2
        assert [message["tick"] for message in queued.interim_results()] == [0, 1]
        done_after = time.monotonic() - restarted
        assert http.get("/readyz").status_code == 200

    with open_database(own_postgres.url) as database, database.read() as tx:
        jobs = tx.jobs.list(limit=None)
        assert sorted(job.id for job in jobs) == sorted([ticking.job_id(), queued.job_id()])
        assert all(job.status is JobStatus.DONE for job in jobs), jobs
        assert {job.id: job.message_count for job in jobs} == {
            ticking.job_id(): COUNT, queued.job_id(): 2}
    log = daemon.log_text()
    assert "Traceback" not in log, log[-3000:]
    print(f"\ndatabase restart: outage {restarted - stopped:.1f} s; requests answered again "
          f"{answered_after:.1f} s after the restart; both jobs done {done_after:.1f} s after")
