"""Many users at once: 50 jobs from 10 users, each run exactly once and reaching one final
state exactly once.

The witness of a run is Docker's: its event log, filtered by the job-id label every container
carries, shows how many containers were created and started for each job. That holds only
when every job has a container of its own, so this daemon runs with reuse off; a reused
container's later jobs leave no Docker event (tests/sandbox/test_reuse.py covers those).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB
from tests.server.conftest import ECHO, ECHO_METADATA

pytestmark = pytest.mark.docker

USERS = 10
JOBS_PER_USER = 5


class ContainerEvents:
    """Counts ``(job id, "create" | "start")`` of sandbox containers from now until
    :meth:`stop`, read live from Docker's event stream (its replay buffer is too short)."""

    def __init__(self, docker) -> None:
        self.counts: Counter = Counter()
        self._stream = docker.events(decode=True, filters={
            "type": "container", "event": ["create", "start"], "label": LABEL_ENGINE})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when closed
            for event in self._stream:
                self.counts[(event["Actor"]["Attributes"].get(LABEL_JOB), event["Action"])] += 1

    def stop(self) -> Counter:
        if self._reader.is_alive():
            time.sleep(1)  # let the last events arrive
            self._stream.close()
            self._reader.join(timeout=10)
        return self.counts


def test_fifty_jobs_from_ten_users_all_run_once(start_daemon, docker) -> None:
    daemon = start_daemon(sandbox={"reuse": False, "warm_pool_size": 0})
    tokens = {"alice": daemon.user("alice"), "root": daemon.user("root", admin=True)}
    with daemon.client(tokens["alice"]) as owner:
        program_id = owner.upload_program(
            ECHO, {**ECHO_METADATA, "name": "echo-many",
                   "spec": {"parameters": {"properties": {"n": {"type": "integer"}},
                                           "required": ["n"]}}})
        owner.set_program_visibility(program_id, True)
    clients = {f"user{i}": daemon.client(daemon.user(f"user{i}")) for i in range(USERS)}
    submissions = [(name, i * JOBS_PER_USER + k)
                   for i, name in enumerate(clients) for k in range(JOBS_PER_USER)]

    def submit(item: tuple[str, int]) -> tuple[str, int, str]:
        name, n = item
        return name, n, clients[name].run(program_id, {"n": n}).job_id()

    def finish(name: str) -> list[tuple[str, int, str, object, str]]:
        """Wait for each job of one user in turn (one waiter per user keeps polls light)."""
        done = []
        for owner, n, job_id in submitted:
            if owner == name:
                job = clients[name].job(job_id)
                done.append((name, n, job_id, job.result(timeout=600), str(job.status())))
        return done

    containers = ContainerEvents(docker)
    try:
        with ThreadPoolExecutor(max_workers=len(submissions)) as pool:
            submitted = list(pool.map(submit, submissions))
            finished = [item for done in pool.map(finish, clients) for item in done]
        job_ids = [job_id for _name, _n, job_id in submitted]
        assert len(set(job_ids)) == USERS * JOBS_PER_USER
        assert all(status == "DONE" and result == n
                   for _name, n, _id, result, status in finished)
        with daemon.client(tokens["root"]) as admin:
            stored = admin.jobs(program_id=program_id, limit=None)
        assert sorted(j.job_id() for j in stored) == sorted(job_ids)  # none lost or doubled
        # Each job ran once: one container created and started for it, never a second.
        seen = containers.stop()
        runs = {job_id: (seen[(job_id, "create")], seen[(job_id, "start")])
                for job_id in job_ids}
        assert runs == dict.fromkeys(job_ids, (1, 1))
        owners = Counter(j._record.owner for j in stored)
        assert owners == dict.fromkeys(clients, JOBS_PER_USER)
        for name, client in clients.items():
            mine = {j.job_id() for j in client.jobs(program_id=program_id, limit=None)}
            assert mine == {job_id for owner, _n, job_id in submitted if owner == name}
        records = [j._record for j in stored]
        events = sorted([(r.started_at, 1) for r in records] + [(r.ended_at, -1) for r in records])
        running = peak = 0
        for _moment, change in events:
            running += change
            peak = max(peak, running)
        from engine.service import load_service_policy

        assert peak <= load_service_policy().max_concurrent_jobs
    finally:
        containers.stop()
        for client in clients.values():
            client.close()
