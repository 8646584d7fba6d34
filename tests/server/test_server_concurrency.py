"""Many users at once: 50 jobs from 10 users, each reaching one final state exactly once."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.conftest import ECHO, ECHO_METADATA

pytestmark = pytest.mark.docker

USERS = 10
JOBS_PER_USER = 5


def test_fifty_jobs_from_ten_users_all_end_once(daemon, tokens) -> None:
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
        for client in clients.values():
            client.close()
