"""Jobs in the store: queue, messages, final states, cancel, recovery, listings."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from engine.records import JobStatus, Reason
from engine.store import Database, new_job_id


def test_new_job_ids_are_random() -> None:
    ids = {new_job_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[a-z0-9]{20}", job_id) for job_id in ids)


def test_create_queues_a_job(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx, options={"log_level": "INFO"}, profile="small")
    assert job.status is JobStatus.QUEUED
    assert (job.owner, job.backend, job.profile) == ("alice", "aer_simulator", "small")
    assert job.inputs == '{"iterations": 2}'
    assert job.options == {"log_level": "INFO"}
    assert job.metrics == {}
    assert job.logs == ""
    assert job.created_at.tzinfo is UTC
    assert job.started_at is job.ended_at is job.claimed_by is None
    assert (job.cancel_requested, job.message_count, job.is_final) == (False, 0, False)
    with db.read() as tx:
        assert tx.jobs.get(job.id) == job
        assert tx.jobs.get("missing") is None


def test_claim_next_is_first_in_first_out(db: Database, add_job) -> None:
    with db.write() as tx:
        ids = [add_job(tx).id for _ in range(3)]
    claimed = []
    for _ in range(4):
        with db.write() as tx:
            job = tx.jobs.claim_next("host-1")
        claimed.append(job)
    assert [job.id for job in claimed[:3]] == ids
    assert claimed[3] is None
    first = claimed[0]
    assert first.status is JobStatus.RUNNING
    assert first.claimed_by == "host-1"
    assert first.started_at is not None and first.started_at >= first.created_at
    assert first.heartbeat_at == first.started_at


def test_claim_next_skips_users_at_their_running_limit(db: Database, add_job) -> None:
    with db.write() as tx:
        a1, a2, b1, a3 = (add_job(tx, owner) for owner in ("alice", "alice", "bob", "alice"))

    def claim():
        with db.write() as tx:
            job = tx.jobs.claim_next("w", max_running_per_user=1)
        return job and job.id

    assert claim() == a1.id
    assert claim() == b1.id  # alice is at her limit: her second job waits
    assert claim() is None
    with db.write() as tx:
        tx.jobs.finish(a1.id, JobStatus.DONE)
    assert claim() == a2.id
    with db.write() as tx:
        assert tx.jobs.claim_next("w", max_running_per_user=2).id == a3.id
        with pytest.raises(ValueError, match="max_running_per_user"):
            tx.jobs.claim_next("w", max_running_per_user=0)


def test_finish_happens_exactly_once(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        tx.jobs.claim_next("w")
    with db.write() as tx:
        assert tx.jobs.finish(
            job.id,
            "DONE",
            result='{"answer": 42}',
            logs="hello\n",
            metrics={"cpu_seconds": 0.5},
        )
        assert not tx.jobs.finish(job.id, JobStatus.ERROR, reason="sandbox_crashed")
        assert not tx.jobs.finish("missing", JobStatus.DONE)
    with db.read() as tx:
        done = tx.jobs.get(job.id)
    assert done is not None
    assert (done.status, done.reason, done.result) == (JobStatus.DONE, None, '{"answer": 42}')
    assert (done.logs, done.metrics) == ("hello\n", {"cpu_seconds": 0.5})
    assert done.ended_at is not None and done.ended_at >= done.started_at
    assert done.is_final


def test_finish_records_the_error(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        tx.jobs.claim_next("w")
        tx.jobs.finish(
            job.id,
            JobStatus.ERROR,
            reason="program_exception",
            error_type="ValueError",
            error_message="bad",
            error_traceback="Traceback ...",
        )
        stored = tx.jobs.get(job.id)
    assert stored is not None
    assert (stored.status, stored.reason) == (JobStatus.ERROR, "program_exception")
    assert (stored.error_type, stored.error_message, stored.error_traceback) == (
        "ValueError",
        "bad",
        "Traceback ...",
    )
    assert stored.logs == "" and stored.metrics == {}


def test_finish_needs_a_final_status(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        with pytest.raises(ValueError, match="final status"):
            tx.jobs.finish(job.id, JobStatus.RUNNING)
        with pytest.raises(ValueError):
            tx.jobs.finish(job.id, "FINISHED")


def test_request_cancel_of_a_queued_job_cancels_it(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        cancelled = tx.jobs.request_cancel(job.id)
        assert tx.jobs.claim_next("w") is None
    assert cancelled is not None
    assert (cancelled.status, cancelled.reason) == (JobStatus.CANCELLED, "user")
    assert cancelled.ended_at is not None and cancelled.started_at is None


def test_request_cancel_of_a_running_job_flags_it(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        tx.jobs.claim_next("w")
        assert tx.jobs.heartbeat(job.id) is False
        flagged = tx.jobs.request_cancel(job.id)
        assert tx.jobs.heartbeat(job.id) is True
    assert flagged is not None
    assert (flagged.status, flagged.cancel_requested) == (JobStatus.RUNNING, True)
    with db.write() as tx:
        assert tx.jobs.finish(job.id, JobStatus.CANCELLED, reason="user")
        assert tx.jobs.heartbeat(job.id) is None
        after = tx.jobs.request_cancel(job.id)  # final: unchanged
        assert tx.jobs.request_cancel("missing") is None
    assert after is not None and after.status is JobStatus.CANCELLED


def test_heartbeat_moves_heartbeat_at(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        claimed = tx.jobs.claim_next("w")
        assert tx.jobs.heartbeat("missing") is None
    with db.write() as tx:
        tx.jobs.heartbeat(job.id)
        beaten = tx.jobs.get(job.id)
    assert beaten.heartbeat_at > claimed.heartbeat_at


def test_messages_are_numbered_from_one_and_replayed(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
    with db.write() as tx:
        assert tx.jobs.append_message(job.id, '"one"') == 1
        assert tx.jobs.append_messages(job.id, ['"two"', '"three"']) == [2, 3]
        assert tx.jobs.append_messages(job.id, []) == []
        tx.jobs.claim_next("w")
        assert tx.jobs.append_message(job.id, '"four"') == 4
    with db.read() as tx:
        assert tx.jobs.messages(job.id) == [
            (1, '"one"'),
            (2, '"two"'),
            (3, '"three"'),
            (4, '"four"'),
        ]
        assert tx.jobs.messages(job.id, after_seq=2) == [(3, '"three"'), (4, '"four"')]
        assert tx.jobs.messages(job.id, after_seq=1, limit=2) == [(2, '"two"'), (3, '"three"')]
        assert tx.jobs.messages("missing") == []
        assert tx.jobs.get(job.id).message_count == 4


def test_no_message_is_accepted_after_the_final_state(db: Database, add_job) -> None:
    with db.write() as tx:
        job = add_job(tx)
        tx.jobs.append_message(job.id, '"before"')
        tx.jobs.finish(job.id, JobStatus.CANCELLED)
        assert tx.jobs.append_message(job.id, '"after"') is None
        assert tx.jobs.append_messages(job.id, ['"a"', '"b"']) == []
        assert tx.jobs.append_message("missing", '"x"') is None
        with pytest.raises(TypeError, match="str"):
            tx.jobs.append_message(job.id, b"bytes")  # type: ignore[arg-type]
    with db.read() as tx:
        assert tx.jobs.messages(job.id) == [(1, '"before"')]


def test_delete_removes_the_job_and_its_messages(db: Database, add_job) -> None:
    with db.write() as tx:
        job, other = add_job(tx), add_job(tx)
        tx.jobs.append_messages(job.id, ['"a"', '"b"'])
        tx.jobs.append_message(other.id, '"c"')
    with db.write() as tx:
        assert tx.jobs.delete(job.id) is True
        assert tx.jobs.delete(job.id) is False
    with db.read() as tx:
        assert tx.jobs.get(job.id) is None
        assert tx.jobs.messages(job.id) == []
        assert tx.jobs.messages(other.id) == [(1, '"c"')]


def test_recover_after_restart(db: Database, add_job) -> None:
    with db.write() as tx:
        running = [add_job(tx).id for _ in range(2)]
        finished = add_job(tx).id
        queued = [add_job(tx).id for _ in range(2)]
        for host in ("host-a", "host-b"):
            tx.jobs.claim_next(host)
        tx.jobs.claim_next("host-a")
        tx.jobs.finish(finished, JobStatus.DONE, result="1")

    with db.write() as tx:
        failed, waiting = tx.jobs.recover_after_restart()
    assert failed == sorted(running)
    assert waiting == queued
    with db.read() as tx:
        for job_id in running:
            job = tx.jobs.get(job_id)
            assert (job.status, job.reason) == (JobStatus.ERROR, Reason.ENGINE_RESTARTED)
            assert job.ended_at is not None and job.error_message
        assert tx.jobs.get(finished).status is JobStatus.DONE
        assert {tx.jobs.get(i).status for i in queued} == {JobStatus.QUEUED}


def test_recover_after_restart_scoped_to_one_host(db: Database, add_job) -> None:
    with db.write() as tx:
        on_a, on_b = add_job(tx).id, add_job(tx).id
        tx.jobs.claim_next("host-a")
        tx.jobs.claim_next("host-b")
    with db.write() as tx:
        recovery = tx.jobs.recover_after_restart(claimed_by="host-a")
    assert recovery.failed == [on_a]
    assert recovery.queued == []
    with db.read() as tx:
        assert tx.jobs.get(on_b).status is JobStatus.RUNNING


def test_list_filters_and_pages(db: Database, add_job) -> None:
    with db.write() as tx:
        a1 = add_job(tx, "alice", "prog-1")
        b1 = add_job(tx, "bob", "prog-1")
        a2 = add_job(tx, "alice", "prog-2")
        a3 = add_job(tx, "alice", "prog-1")
        tx.jobs.claim_next("w")  # a1 RUNNING
        tx.jobs.finish(a2.id, JobStatus.DONE)

    def ids(**filters):
        with db.read() as tx:
            return [job.id for job in tx.jobs.list(limit=None, **filters)]

    assert ids() == [a3.id, a2.id, b1.id, a1.id]
    assert ids(owner="alice") == [a3.id, a2.id, a1.id]
    assert ids(program_id="prog-1") == [a3.id, b1.id, a1.id]
    assert ids(owner="alice", program_id="prog-1") == [a3.id, a1.id]
    assert ids(status=JobStatus.QUEUED) == [a3.id, b1.id]
    assert ids(status="DONE") == [a2.id]
    assert ids(status=["RUNNING", JobStatus.DONE]) == [a2.id, a1.id]
    assert ids(created_after=b1.created_at) == [a3.id, a2.id, b1.id]
    assert ids(claimed_by="w") == [a1.id]
    with db.read() as tx:
        assert [j.id for j in tx.jobs.list(limit=2, skip=1)] == [a2.id, b1.id]
        assert [j.id for j in tx.jobs.list()] == [a3.id, a2.id, b1.id, a1.id]  # default 10
        assert tx.jobs.count(owner="alice") == 3
        assert tx.jobs.count(status="QUEUED", program_id="prog-1") == 2
        with pytest.raises(ValueError):
            tx.jobs.list(status="SLEEPING")
        with pytest.raises(ValueError, match="created_after must be a timezone-aware"):
            tx.jobs.list(created_after=datetime(2024, 1, 1))


def test_counts_by_status_and_reason(db: Database, add_job) -> None:
    with db.write() as tx:
        jobs = [add_job(tx).id for _ in range(5)]
        tx.jobs.claim_next("w")
        tx.jobs.claim_next("w")
        tx.jobs.finish(jobs[0], JobStatus.ERROR, reason="out_of_memory")
        tx.jobs.request_cancel(jobs[4])
        counts = tx.jobs.counts()
        by_status = tx.jobs.count_by_status()
    assert counts == {
        (JobStatus.ERROR, "out_of_memory"): 1,
        (JobStatus.RUNNING, None): 1,
        (JobStatus.QUEUED, None): 2,
        (JobStatus.CANCELLED, "user"): 1,
    }
    assert by_status == {
        JobStatus.QUEUED: 2,
        JobStatus.RUNNING: 1,
        JobStatus.DONE: 0,
        JobStatus.ERROR: 1,
        JobStatus.CANCELLED: 1,
    }


def test_hostile_lengths_are_refused_or_cut(db: Database, add_job) -> None:
    with db.write() as tx:
        with pytest.raises(ValueError, match="backend must be"):
            tx.jobs.create(program_id="p", program_version=1, owner="a", backend="", inputs="{}")
        with pytest.raises(ValueError, match="worker_id must be"):
            tx.jobs.claim_next("w" * 201)
        job = add_job(tx)
        tx.jobs.claim_next("w")
        assert tx.jobs.finish(job.id, JobStatus.ERROR, error_type="E" * 10_000)
        assert tx.jobs.get(job.id).error_type == "E" * 200
