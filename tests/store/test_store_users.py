"""Users and token hashes in the store."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from engine.store import Database, check_user_name


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_user_with_tokens_is_found_by_hash_only(db: Database) -> None:
    with db.write() as tx:
        user = tx.users.create("alice")
        tx.users.add_token("alice", _hash("t1"))
        tx.users.add_token("alice", _hash("t2"))
    assert (user.name, user.is_admin, user.active_tokens) == ("alice", False, 0)
    with db.read() as tx:
        assert tx.users.by_token_hash(_hash("t1")).name == "alice"
        assert tx.users.by_token_hash(_hash("t2")).name == "alice"
        assert tx.users.by_token_hash(_hash("t3")) is None
        assert tx.users.by_token_hash("t1") is None  # a token itself never matches
        assert tx.users.get("alice").active_tokens == 2
        rows = tx.session.execute(text("SELECT token_hash FROM api_tokens")).all()
    assert sorted(row[0] for row in rows) == sorted([_hash("t1"), _hash("t2")])


def test_revoke_ends_every_token_of_the_user_only(db: Database) -> None:
    with db.write() as tx:
        tx.users.create("alice")
        tx.users.create("root", is_admin=True)
        tx.users.add_token("alice", _hash("a"))
        tx.users.add_token("root", _hash("r"))
    with db.write() as tx:
        assert tx.users.revoke("alice") == 1
        assert tx.users.revoke("alice") == 0
    with db.read() as tx:
        assert tx.users.by_token_hash(_hash("a")) is None
        assert tx.users.by_token_hash(_hash("r")).is_admin
        assert [(u.name, u.active_tokens) for u in tx.users.list()] == [("alice", 0),
                                                                        ("root", 1)]


def test_refusals(db: Database) -> None:
    with db.write() as tx:
        tx.users.create("alice")
    with pytest.raises(ValueError, match="already exists"), db.write() as tx:
        tx.users.create("alice")
    with pytest.raises(LookupError), db.write() as tx:
        tx.users.add_token("nobody", _hash("x"))
    with pytest.raises(LookupError), db.write() as tx:
        tx.users.revoke("nobody")
    with pytest.raises(ValueError, match="64 lower-case hex"), db.write() as tx:
        tx.users.add_token("alice", "not-a-hash")
    with pytest.raises(RuntimeError), db.read() as tx:
        tx.users.create("bob")


@pytest.mark.parametrize("name", ["", " ", "a b", "-x", "x/y", "é", "a" * 65, "a\n"])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        check_user_name(name)


def test_good_user_names() -> None:
    for name in ("alice", "ci-bot", "a.b_c@example.org", "7"):
        check_user_name(name)
