"""The standard-library reads of a SQLite store return what the service returns.

One store holds programs of several owners (private and public, several versions, every
review state, equal creation times) and jobs of several owners (every status, equal creation
times, interim messages, metrics); :class:`SQLiteReads` and a real
:class:`~engine.service.RuntimeService` on the same file must return equal records, for
ordinary users, a user with nothing, and an admin, under every filter the service takes.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import JobNotFound, RuntimeService
from engine.process_identity import this_process
from engine.records import JobStatus, ReviewStatus
from engine.store import open_database
from engine.store.location import DATABASE_FILE, HEAD_REVISION
from engine.store.sqlite_reads import SQLiteReads
from tests.store.conftest import SOURCE, program_metadata

USERS = [("alice", False), ("bob", False), ("zed", False), ("root", True)]
OTHER_HOST = "elsewhere:4242:1"  # a worker on another host: alive as far as this one knows
TIE = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    """A store of programs and jobs; its home, the program ids and the job ids."""
    home = tmp_path_factory.mktemp("home")
    programs, jobs = [], []
    with open_database(home=home) as db, db.write() as tx:
        for index, (owner, public) in enumerate([("alice", False), ("alice", True),
                                                 ("bob", False), ("bob", True),
                                                 ("carol", False)]):
            record = tx.programs.create(
                name=f"p{index}", owner=owner, metadata=program_metadata(f"p{index}"),
                source_hash=f"{index:064x}", entry="hello_world",
                files={"hello_world.py": SOURCE}, is_public=public)
            tx.reviews.record_scan(record.id, 1, status=ReviewStatus.APPROVED, uploader=owner,
                                   scan_report=None)
            programs.append(record.id)
        # Later versions in each review state: the listing shows the current one, whatever
        # its state; the uploader may differ from the owner.
        for program_id, status in [(programs[0], ReviewStatus.PENDING_REVIEW),
                                   (programs[1], ReviewStatus.PENDING_REVIEW),
                                   (programs[3], ReviewStatus.PENDING_REVIEW)]:
            added = tx.programs.add_version(
                program_id, metadata=program_metadata("renamed", spec={"parameters": {
                    "type": "object", "properties": {"n": {"type": "integer"}}}}),
                source_hash="f" * 64, entry="hello_world", files={"hello_world.py": SOURCE},
                name="renamed")
            assert added is not None
            tx.reviews.record_scan(program_id, added.current_version, status=status,
                                   uploader="alice", scan_report='{"summary": {}}')
        assert tx.reviews.decide(programs[1], 2, status=ReviewStatus.APPROVED,
                                 reviewer="root", comment="fine")
        assert tx.reviews.decide(programs[3], 2, status=ReviewStatus.REJECTED,
                                 reviewer="root", comment="no")
        for index, owner in enumerate(["alice", "bob", "carol"] * 5):
            job = tx.jobs.create(program_id=programs[index % 4], program_version=1,
                                 owner=owner, backend="aer_simulator",
                                 inputs=json.dumps({"n": index}), options={"shots": index},
                                 profile="small" if index % 2 else None)
            jobs.append(job.id)
        # Every status: queued, running (here and elsewhere), done, error, cancelled.
        claimed = [tx.jobs.claim_next(worker) for worker in (this_process(), OTHER_HOST,
                                                             OTHER_HOST, OTHER_HOST, "w")]
        assert all(claimed)
        tx.jobs.append_messages(claimed[0].id, ['{"step": 1}', '{"step": 2}'])
        tx.jobs.finish(claimed[2].id, "DONE", result='"ok"', logs="hello\n",
                       metrics={"wall_seconds": 0.5, "node": "n1"})
        tx.jobs.finish(claimed[3].id, "ERROR", reason="program_exception",
                       error_type="ValueError", error_message="boom", error_traceback="tb")
        tx.jobs.finish(claimed[4].id, "CANCELLED", reason="ran_too_long")
        tx.jobs.request_cancel(jobs[-1])
        # Equal creation times: the order then goes by id, as the repositories sort.
        tx.session.execute(text("UPDATE jobs SET created_at = :t WHERE rowid % 3 = 0"),
                           {"t": TIE.replace(tzinfo=None).isoformat(" ")})
        tx.session.execute(text("UPDATE programs SET created_at = :t WHERE name = 'p2' "
                                "OR name = 'p4'"), {"t": TIE.replace(tzinfo=None).isoformat(" ")})
    return home, programs, jobs


def _service(home: Path, user: str, is_admin: bool) -> RuntimeService:
    return RuntimeService(home=home, user=user, is_admin=is_admin, executor=None)


def _reads(home: Path, user: str, is_admin: bool) -> SQLiteReads:
    reads = SQLiteReads.open(home / DATABASE_FILE, user, is_admin=is_admin)
    assert reads is not None
    return reads


JOB_FILTERS = [
    {},
    {"limit": None},
    {"limit": 3, "skip": 2},
    {"limit": 0},
    {"skip": 100},
    {"status": "DONE"},
    {"status": "queued"},
    {"status": JobStatus.RUNNING, "limit": None},
    {"status": "ERROR"},
    {"status": "CANCELLED", "limit": None},
    {"program_id": "PROGRAM", "limit": None},
    {"program_id": "PROGRAM", "status": "QUEUED"},
    {"program_id": "no-such-program"},
    {"created_after": TIE, "limit": None},
    {"created_after": TIE + timedelta(microseconds=1), "limit": None},
    {"created_after": TIE.astimezone(timezone(timedelta(hours=5))), "limit": None},
]


@pytest.mark.parametrize(("user", "is_admin"), USERS)
def test_jobs_jobs_and_programs_equal_the_service(store, user, is_admin) -> None:
    home, programs, jobs = store
    with _service(home, user, is_admin) as service, _reads(home, user, is_admin) as reads:
        seen = 0
        for filters in JOB_FILTERS:
            if filters.get("program_id") == "PROGRAM":
                filters = {**filters, "program_id": programs[1]}
            # ``_record``: the exact record the service's RuntimeJob holds
            expected = [job._record for job in service.jobs(**filters)]
            assert reads.jobs(**filters) == expected, filters
            seen += len(expected)
        assert seen > 0 or user == "zed"
        for job_id in [*jobs, "no-such-job"]:
            try:
                expected = service.job_record(job_id)
            except JobNotFound:
                expected = None
            assert reads.job(job_id) == expected, job_id
        for paging in [{}, {"limit": None}, {"limit": 2, "skip": 1}, {"skip": 9}]:
            expected = [program._record for program in service.programs(**paging)]
            assert reads.programs(**paging) == expected, paging


def test_what_each_user_sees(store) -> None:
    """The comparison above compares something: each user sees their own share."""
    home, programs, jobs = store
    with _reads(home, "alice", False) as alice, _reads(home, "root", True) as root:
        assert {job.owner for job in alice.jobs(limit=None)} == {"alice"}
        assert len(root.jobs(limit=None)) == len(jobs)
        assert {p.id for p in alice.programs()} == {*programs[:2], programs[3]}
        assert len(root.programs(limit=None)) == len(programs)
        shown = {p.id: (p.current_version, p.version.review_status) for p in root.programs()}
        assert shown[programs[0]] == (2, "pending_review")
        assert shown[programs[3]] == (2, "rejected")
        assert alice.job(jobs[1]) is None and root.job(jobs[1]) is not None
        assert {job.status for job in root.jobs(limit=None)} == set(JobStatus)
        assert root.running_claimers() == {this_process(), OTHER_HOST}


def test_the_reads_take_the_services_arguments_and_defaults() -> None:
    for name, service_method in (("jobs", RuntimeService.jobs),
                                 ("programs", RuntimeService.programs)):
        ours = inspect.signature(getattr(SQLiteReads, name)).parameters
        theirs = inspect.signature(service_method).parameters
        assert [(p.name, p.default) for p in ours.values()] == \
            [(p.name, p.default) for p in theirs.values()], name


def test_a_store_not_at_the_newest_revision_is_left_to_the_service(tmp_path) -> None:
    with open_database(home=tmp_path) as db, db.write() as tx:
        tx.session.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    assert HEAD_REVISION != "0002"
    assert SQLiteReads.open(tmp_path / DATABASE_FILE, "alice") is None
    assert SQLiteReads.open(tmp_path / "missing.db", "alice") is None


def test_the_connection_is_read_only(store) -> None:
    home, _programs, _jobs = store
    with _reads(home, "alice", False) as reads, pytest.raises(sqlite3.OperationalError,
                                                              match="readonly"):
        reads._connection.execute("DELETE FROM jobs")
