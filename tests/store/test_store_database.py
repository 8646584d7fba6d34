"""Opening the store: migrations, SQLite settings, transactions and crash safety."""

from __future__ import annotations

import json
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from engine.errors import ConfigurationError
from engine.settings import Settings
from engine.store import Database, default_url, open_database
from engine.store.database import HEAD_REVISION, MIGRATIONS_DIR
from engine.store.models import Base

WORKER = Path(__file__).with_name("store_worker.py")
TABLES = {"programs", "program_versions", "program_files", "jobs", "job_messages", "users",
          "api_tokens", "audit_log"}
HEAD = "0004"


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def _revision(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]


def test_migrations_create_the_schema_on_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    path.touch()
    assert _tables(path) == set()

    open_database(home=tmp_path).close()

    assert _tables(path) == TABLES | {"alembic_version"}
    assert _revision(path) == [HEAD]


def test_second_open_is_idempotent_and_keeps_data(tmp_path: Path, add_program) -> None:
    with open_database(home=tmp_path) as db, db.write() as tx:
        program = add_program(tx)

    with open_database(home=tmp_path) as db, db.read() as tx:
        assert tx.programs.get(program.id) == program
    assert _revision(tmp_path / "engine.db") == [HEAD]


def test_head_revision_constant_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION] == [HEAD]


def test_a_store_behind_the_head_is_upgraded_on_open(tmp_path: Path) -> None:
    open_database(home=tmp_path).close()
    path = tmp_path / "engine.db"
    with sqlite3.connect(path) as connection:  # as a store made before the users migration
        connection.execute("DROP TABLE api_tokens")
        connection.execute("DROP TABLE users")
        connection.execute("DROP TABLE audit_log")  # and before the review one
        connection.execute("DROP INDEX ix_program_versions_review_status")
        for column in ("review_status", "uploader", "scan_report", "reviewed_by",
                       "review_comment", "reviewed_at"):
            connection.execute(f"ALTER TABLE program_versions DROP COLUMN {column}")
        connection.execute("UPDATE alembic_version SET version_num = '0001'")

    open_database(home=tmp_path).close()

    assert _tables(path) == TABLES | {"alembic_version"}
    assert _revision(path) == [HEAD]


def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    open_database(home=tmp_path).close()
    probe = (
        "import sys; from pathlib import Path; from engine.store import open_database; "
        f"open_database(home=Path({str(tmp_path)!r})).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_indexes_serve_the_queue_and_the_listings(db: Database) -> None:
    indexes = {
        index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("jobs")
    }
    assert indexes["ix_jobs_status_created_at"] == ["status", "created_at"]
    assert indexes["ix_jobs_owner_created_at"] == ["owner", "created_at"]


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_busy_timeout=7.5)
    with open_database(settings=settings) as db, db.read() as tx:
        assert tx.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert tx.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert tx.session.execute(text("PRAGMA busy_timeout")).scalar() == 7500
        assert tx.session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_home_and_file_are_private(tmp_path: Path) -> None:
    home = tmp_path / "state"
    open_database(home=home).close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "engine.db").stat().st_mode) == 0o600


def test_url_wins_over_settings_and_home(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "store.sqlite"
    settings = Settings(home=tmp_path / "home", database_url=str(default_url(tmp_path / "x")))
    with open_database(f"sqlite:///{elsewhere}", settings=settings) as db:
        assert db.dialect == "sqlite"
    assert elsewhere.exists()
    assert not (tmp_path / "home" / "engine.db").exists()
    assert not (tmp_path / "x" / "engine.db").exists()


def test_settings_url_is_used_when_no_url_is_given(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=str(default_url(tmp_path / "x")))
    open_database(settings=settings).close()
    assert _revision(tmp_path / "x" / "engine.db") == [HEAD]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="in-memory"):
        open_database(url)


@pytest.mark.parametrize("url", ["mysql://u@127.0.0.1/x", "not a url"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="database_url"):
        open_database(url)


def test_read_transactions_refuse_changes(db: Database, add_program) -> None:
    with db.read() as tx, pytest.raises(RuntimeError, match=r"Database\.write"):
        add_program(tx)
    with db.read() as tx, pytest.raises(RuntimeError, match=r"Database\.write"):
        tx.jobs.claim_next("w")


def test_an_exception_rolls_back_the_whole_transaction(db: Database, add_program, add_job) -> None:
    with pytest.raises(ZeroDivisionError), db.write() as tx:
        program = add_program(tx)
        job = add_job(tx, program_id=program.id)
        tx.jobs.append_message(job.id, '"first"')
        1 / 0  # noqa: B018

    with db.read() as tx:
        assert tx.programs.count_visible("alice", is_admin=True) == 0
        assert tx.jobs.count() == 0
    with db.engine.connect() as connection:
        for table in TABLES:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_a_failing_statement_leaves_nothing_of_its_transaction(
    db: Database, add_program, add_job
) -> None:
    with db.write() as tx:
        existing = add_job(tx)
    with pytest.raises(Exception, match="UNIQUE"), db.write() as tx:
        add_program(tx, name="half")
        add_job(tx, job_id=existing.id)  # primary key clash: the whole block goes

    with db.read() as tx:
        assert tx.programs.list_visible("alice") == []
        assert [job.id for job in tx.jobs.list()] == [existing.id]


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_killed_process_leaves_nothing_half_written(tmp_path: Path, add_job) -> None:
    open_database(home=tmp_path).close()
    with _worker("hold", str(tmp_path)) as holder:
        assert holder.stdout is not None
        try:
            line = holder.stdout.readline()  # written, not committed
        finally:
            holder.kill()  # SIGKILL inside the open transaction
    assert json.loads(line) == {"written": 50}
    assert holder.returncode == -signal.SIGKILL

    settings = Settings(home=tmp_path, database_busy_timeout=5)
    with open_database(settings=settings) as db:
        with db.read() as tx:
            assert tx.programs.count_visible("x", is_admin=True) == 0
            assert tx.jobs.count() == 0
        with db.write() as tx:  # the dead process's write lock is gone
            add_job(tx)
        with db.read() as tx:
            assert tx.jobs.count() == 1


def test_two_processes_opening_a_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    workers = [_worker("open", str(tmp_path)) for _ in range(2)]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert all(json.loads(output) == {"opened": True} for output in outputs)
    assert _tables(tmp_path / "engine.db") == TABLES | {"alembic_version"}
    assert _revision(tmp_path / "engine.db") == [HEAD]


def test_a_nested_write_on_one_thread_fails_fast(db: Database, add_job) -> None:
    with db.write() as outer:
        add_job(outer)
        with pytest.raises(RuntimeError, match="inside"), db.write():
            pass
        with db.read() as reader:  # reading alongside is fine (WAL)
            assert reader.jobs.count() == 0
    with db.read() as tx:
        assert tx.jobs.count() == 1
