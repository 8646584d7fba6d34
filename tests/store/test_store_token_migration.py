"""Migration 0004 on a store made at 0003: tokens get their ids, keep working, never expire.

The store is built by Alembic up to 0003 and filled as that revision's code filled it, then
opened, which upgrades it; on SQLite and on PostgreSQL (a fresh database of this module).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert

from engine.store import Database, default_url, open_database
from engine.store.database import HEAD_REVISION, alembic_config
from engine.store.models import ApiToken, Base, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _store_at_0003(url: str) -> None:
    """A store at revision 0003 holding alice with a valid and a revoked token."""
    database = open_database(url, migrate=False)
    try:
        config = alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
        assert database.schema_revisions() == ["0003"]
        created = datetime.now(UTC) - timedelta(days=400)
        with database.engine.begin() as connection:  # the columns 0003 has, no more
            connection.execute(insert(User.__table__).values(
                name="alice", is_admin=False, is_reviewer=False, created_at=created))
            connection.execute(insert(ApiToken.__table__).values(
                token_hash=_hash("kept"), user_name="alice", created_at=created))
            connection.execute(insert(ApiToken.__table__).values(
                token_hash=_hash("gone"), user_name="alice", created_at=created,
                revoked_at=created))
    finally:
        database.close()


def _check_upgraded(database: Database) -> None:
    assert database.schema_revisions() == [HEAD_REVISION] == ["0004"]
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    with database.read() as tx:
        assert tx.users.by_token_hash(_hash("kept")).name == "alice"
        assert tx.users.by_token_hash(_hash("gone")) is None
        tokens = {t.token_id: t for t in tx.users.tokens("alice")}
        assert tx.users.get("alice").active_tokens == 1
    assert set(tokens) == {_hash("kept")[:12], _hash("gone")[:12]}
    assert all(t.expires_at is None for t in tokens.values())
    now = datetime.now(UTC)
    assert tokens[_hash("gone")[:12]].state(now) == "revoked"
    assert tokens[_hash("kept")[:12]].state(now) == "valid"
    with database.write() as tx:  # new tokens get ids after the old ones, unique
        new = tx.users.add_token("alice", _hash("new"), expires_at=now + timedelta(days=1))
        with pytest.raises(ValueError, match="taken"):
            tx.users.add_token("alice", _hash("kept"))
    assert new.token_id == _hash("new")[:12]


def test_a_sqlite_store_at_0003_is_upgraded(tmp_path: Path) -> None:
    url = str(default_url(tmp_path))
    _store_at_0003(url)
    with open_database(url) as database:
        _check_upgraded(database)


@pytest.mark.postgres
def test_a_postgres_store_at_0003_is_upgraded(postgres_url: str) -> None:
    _store_at_0003(postgres_url)
    with open_database(postgres_url) as database:
        _check_upgraded(database)
