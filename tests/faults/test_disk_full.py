"""A full disk under ``ENGINE_HOME``: uploads, runs and CLI writes are refused whole with
``StorageFull`` (HTTP 507, CLI exit 2), the SQLite store stays intact, and everything works
again once space is freed.

``ENGINE_HOME`` is a 32 MB tmpfs the test mounts (``small_disk``); the daemon's log is kept
elsewhere so that it can still be written.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import StorageFull
from tests.faults.conftest import fill
from tests.server.conftest import ECHO, ECHO_METADATA

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CLI = Path(sys.executable).with_name("program-engine")


def _sqlite(path: Path, pragma: str) -> list[tuple]:
    connection = sqlite3.connect(path, timeout=30)
    try:
        return connection.execute(f"PRAGMA {pragma}").fetchall()
    finally:
        connection.close()


def _add_user(home: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ENGINE_")}
    return subprocess.run([str(CLI), "users", "add", name, "--home", str(home)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_full_disk_refuses_writes_whole(small_disk, start_fault_daemon, runtime_image,
                                          tmp_path) -> None:
    home = small_disk / "home"
    database = home / "engine.db"
    daemon = start_fault_daemon(home, log=tmp_path / "daemon.log")
    token = daemon.user("alice")
    with daemon.client(token) as service, daemon.http(token) as http:
        program_id = service.upload_program(ECHO, ECHO_METADATA)
        # The write-ahead log is emptied first, so that every write needs new space.
        assert _sqlite(database, "wal_checkpoint(TRUNCATE)")[0][0] == 0
        filler = fill(small_disk)

        refused = http.post("/v1/jobs", json={"program_id": program_id, "inputs": {"n": 1}})
        assert refused.status_code == 507, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["error"] == "StorageFull"
        assert problem["type"] == "urn:program-engine:problem:storage-full"
        assert "disk is full" in problem["detail"]
        with pytest.raises(StorageFull, match="disk is full"):
            service.upload_program(ECHO, {**ECHO_METADATA, "name": "other"})
        cli = _add_user(home, "bob")
        assert cli.returncode == 2, cli.stderr
        assert "disk is full" in cli.stderr and "Traceback" not in cli.stderr

        # Nothing half-written: no job, no second program, no user bob; the store is intact.
        assert [program.program_id for program in service.programs()] == [program_id]
        assert service.jobs() == []
        assert _sqlite(database, "integrity_check") == [("ok",)]

        filler.unlink()
        assert service.run(program_id, {"n": 7}).result(timeout=120) == 7
        assert service.upload_program(ECHO, {**ECHO_METADATA, "name": "other"})
        assert _add_user(home, "bob").returncode == 0
    assert _sqlite(database, "integrity_check") == [("ok",)]
    log = daemon.log_text()
    assert "Traceback" not in log, log[-3000:]
