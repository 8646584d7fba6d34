"""The CLI's listings without the service: the same store, the same answers, or none.

:func:`store_file` must name the file ``RuntimeService`` opens under the same settings
(checked against a real service), and :class:`QuickReads` must answer as the service does,
or ``None`` wherever the service would do something first (end a dead engine's jobs).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from engine import RuntimeService
from engine.quick_reads import QuickReads, store_file
from engine.records import JobStatus, Reason
from engine.settings import Settings
from engine.store import open_database
from engine.store.location import DATABASE_FILE
from tests.store.conftest import SOURCE, program_metadata


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``ENGINE_*`` variable of the caller's, and a home folder of the test's own."""
    for key in list(os.environ):
        if key.lower().startswith("engine_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return monkeypatch


def _opened_by_service(home: Path | None, database_url: str | None) -> Path:
    """The SQLite file a real service opens with these arguments and the environment's
    settings (read afresh, as a new process reads them)."""
    with RuntimeService(home=home, database_url=database_url, executor=None,
                        settings=Settings()) as service:
        return Path(service._db.url.database or "").absolute()


@pytest.mark.parametrize(
    ("variables", "home", "url"),
    [
        ({}, None, None),
        ({"ENGINE_HOME": "h1"}, None, None),
        ({"engine_home": "h2"}, None, None),
        ({"ENGINE_HOME": "h1"}, "h3", None),
        ({"ENGINE_HOME": "h1", "ENGINE_DATABASE_URL": ""}, None, None),
        ({"ENGINE_DATABASE_URL": "sqlite:///TMP/u.db"}, "h3", None),
        ({"Engine_Database_Url": "sqlite:///TMP/u.db"}, None, None),
        ({"ENGINE_DATABASE_URL": "sqlite:///TMP/u.db"}, None, "sqlite+pysqlite:///TMP/v.db"),
        ({}, None, "sqlite:///relative.db"),
    ],
)
def test_the_store_file_is_the_one_the_service_opens(environ, tmp_path, variables, home, url):
    environ.chdir(tmp_path)
    for key, value in variables.items():
        environ.setenv(key, value.replace("TMP", str(tmp_path)))
    url = url.replace("TMP", str(tmp_path)) if url else None
    found = store_file(home, url)
    assert found is not None
    assert found.absolute() == _opened_by_service(Path(home) if home else None, url)


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({"ENGINE_CONFIG": "CONFIG"}, None),
        ({"ENGINE_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db"}, None),
        ({}, "postgresql+psycopg://u@127.0.0.1/db"),
        ({}, "sqlite:///TMP/x.db?timeout=5"),
        ({}, "sqlite:///TMP/a%20b.db"),
        ({}, "sqlite:///file:x.db"),
        ({}, "sqlite://"),
    ],
)
def test_only_a_plain_sqlite_file_is_read_without_the_service(environ, tmp_path, variables,
                                                              url):
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    for key, value in variables.items():
        environ.setenv(key, value.replace("CONFIG", str(config)))
    assert store_file(None, url.replace("TMP", str(tmp_path)) if url else None) is None
    assert QuickReads(None, "alice").jobs() is None


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store with alice's program and jobs (one DONE, one RUNNING elsewhere) and bob's."""
    with open_database(home=tmp_path) as db, db.write() as tx:
        program = tx.programs.create(
            name="hello", owner="alice", metadata=program_metadata("hello"),
            source_hash="0" * 64, entry="hello_world", files={"hello_world.py": SOURCE})
        for owner in ("alice", "alice", "bob"):
            tx.jobs.create(program_id=program.id, program_version=1, owner=owner,
                           backend="aer_simulator", inputs=json.dumps({"n": 1}))
        done = tx.jobs.claim_next("elsewhere:1:1")
        assert done is not None
        tx.jobs.finish(done.id, "DONE", result='{"__type__": "complex", "__value__": [1, 2]}')
        assert tx.jobs.claim_next("elsewhere:1:1") is not None
    return tmp_path


def test_the_answers_are_the_services(home) -> None:
    reads = QuickReads(home / DATABASE_FILE, "alice")
    with RuntimeService(home=home, user="alice", executor=None) as service:
        expected = [job.to_dict() for job in service.jobs(limit=None)]
        assert reads.job_documents(limit=None) == expected
        assert [row["status"] for row in expected] == ["RUNNING", "DONE"]
        for row in expected:
            assert reads.job_document(row["id"]) == service.job(row["id"]).to_dict()
        programs = reads.programs()
        assert programs is not None
        assert [p.to_dict() for p in programs] == [p.to_dict() for p in service.programs()]
        bobs = [job.job_id() for job in service.as_user("bob").jobs()]
    assert len(bobs) == 1
    assert reads.job(bobs[0]) is None and reads.job("no-such-job") is None  # the service says


def test_a_dead_engines_job_is_left_for_the_service_to_end(home) -> None:
    dead = f"{socket.gethostname()}:{os.getpid()}:1"  # this pid, another start: a dead process
    with open_database(home=home) as db, db.write() as tx:
        job = tx.jobs.claim_next(dead)
        assert job is not None
    reads = QuickReads(home / DATABASE_FILE, "bob")
    assert reads.jobs() is None and reads.programs() is None and reads.job(job.id) is None
    RuntimeService(home=home, user="bob", executor=None).close()  # it ends the job...
    ended = reads.job(job.id)  # ... and the quick reads answer again
    assert ended is not None
    assert (ended.status, ended.reason) == (JobStatus.ERROR, Reason.ENGINE_RESTARTED)
