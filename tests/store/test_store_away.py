"""A store that does not answer: its driver errors become the engine's ``StoreUnavailable``
(503 at the daemon) and a full disk ``StorageFull`` (507), with nothing changed.

A SQLite write lock held by another connection past the busy timeout stands in for a
database that is away; the real restarts (PostgreSQL) and the real full disk (a tmpfs) are
in ``tests/faults/``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.errors import StorageFull, StoreUnavailable
from engine.settings import Settings
from engine.store import open_database
from engine.store.database import DATABASE_FILE, store_error


def test_a_store_held_past_the_busy_timeout_is_unavailable_and_unchanged(
        tmp_path: Path, add_program) -> None:
    settings = Settings(home=tmp_path, database_busy_timeout=0.2)
    with open_database(settings=settings) as db:
        holder = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreUnavailable, match="does not answer"), db.write() as tx:
                add_program(tx)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with db.read() as tx:
            assert tx.programs.list_visible("alice", is_admin=True, limit=None) == []
        with db.write() as tx:  # the same pool works again at once
            add_program(tx)


class _Driver(Exception):
    def __init__(self, text: str, **attributes: object) -> None:
        super().__init__(text)
        self.__dict__.update(attributes)


@pytest.mark.parametrize(("driver", "expected"), [
    (_Driver("database or disk is full", sqlite_errorcode=13), StorageFull),
    (_Driver("could not extend file: No space left on device", sqlite_errorcode=None,
             sqlstate="53100"), StorageFull),
    (_Driver('connection to server at "10.0.0.9", port 5432 failed: Connection refused'),
     StoreUnavailable),
])
def test_driver_errors_are_named_without_the_servers_address(driver, expected) -> None:
    from sqlalchemy.exc import OperationalError

    error = store_error(OperationalError("SELECT 1", {}, driver))
    assert type(error) is expected
    assert "10.0.0.9" not in str(error)
