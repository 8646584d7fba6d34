"""Users and token hashes in the store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from engine.errors import DuplicateUser, TokenNotFound, UserNotFound
from engine.records import JobStatus
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
    with pytest.raises(DuplicateUser, match="already exists"), db.write() as tx:
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


# --- token ids, expiry, one token revoked -------------------------------------------------


def test_a_token_is_named_by_the_first_12_hex_digits_of_its_hash(db: Database) -> None:
    with db.write() as tx:
        tx.users.create("alice")
        issued = tx.users.add_token("alice", _hash("t1"))
    assert issued.token_id == _hash("t1")[:12] and issued.user == "alice"
    assert issued.expires_at is None and issued.revoked_at is None
    with db.read() as tx:
        assert tx.users.token(issued.token_id) == issued
        assert tx.users.token("zz" * 6) is None and tx.users.token("../etc") is None


def test_an_expired_token_authenticates_no_more(db: Database) -> None:
    now = datetime.now(UTC)
    with db.write() as tx:
        tx.users.create("alice")
        tx.users.add_token("alice", _hash("old"), expires_at=now - timedelta(seconds=1))
        tx.users.add_token("alice", _hash("new"), expires_at=now + timedelta(hours=1))
    with db.read() as tx:
        assert tx.users.by_token_hash(_hash("old")) is None
        assert tx.users.by_token_hash(_hash("new")).name == "alice"
        assert tx.users.get("alice").active_tokens == 1
        assert tx.users.token_by_hash(_hash("old")).state(now) == "expired"
        states = [t.state(now) for t in tx.users.tokens("alice")]
    assert sorted(states) == ["expired", "valid"]
    with pytest.raises(ValueError, match="timezone-aware"), db.write() as tx:
        tx.users.add_token("alice", _hash("naive"), expires_at=datetime.now())


def test_one_token_is_revoked_and_the_others_stay(db: Database) -> None:
    with db.write() as tx:
        tx.users.create("alice")
        tx.users.create("bob")
        keep = tx.users.add_token("alice", _hash("keep"))
        drop = tx.users.add_token("alice", _hash("drop"))
        bobs = tx.users.add_token("bob", _hash("bob"))
    with db.write() as tx:
        revoked, was_valid = tx.users.revoke_token("alice", drop.token_id)
        assert was_valid and revoked.revoked_at is not None
        again, was_valid = tx.users.revoke_token("alice", drop.token_id)
        assert not was_valid and again.revoked_at == revoked.revoked_at
    with db.read() as tx:
        assert tx.users.by_token_hash(_hash("drop")) is None
        assert tx.users.by_token_hash(_hash("keep")).name == "alice"
        listed = {t.token_id: t.state(datetime.now(UTC)) for t in tx.users.tokens("alice")}
    assert listed == {keep.token_id: "valid", drop.token_id: "revoked"}
    with pytest.raises(TokenNotFound), db.write() as tx:  # bob's token is not alice's
        tx.users.revoke_token("alice", bobs.token_id)
    with pytest.raises(UserNotFound), db.write() as tx:
        tx.users.revoke_token("nobody", keep.token_id)


# --- deleting a user --------------------------------------------------------------------------


def test_deleting_a_user_takes_their_programs_jobs_and_tokens_only(
    db: Database, add_program, add_job
) -> None:
    with db.write() as tx:
        for name in ("alice", "bob"):
            tx.users.create(name)
            tx.users.add_token(name, _hash(name))
        mine = add_program(tx, name="mine", owner="alice", is_public=True)
        theirs = add_program(tx, name="theirs", owner="bob")
        done = add_job(tx, program_id=theirs.id, owner="alice")
        tx.jobs.finish(done.id, JobStatus.DONE, result="1")
        running = add_job(tx, program_id=mine.id, owner="alice")
        tx.session.execute(text("UPDATE jobs SET status = 'RUNNING' WHERE id = :id"),
                           {"id": running.id})
        bobs_job = add_job(tx, program_id=mine.id, owner="bob")
    with db.read() as tx:
        held = tx.users.holdings("alice")
    assert held.programs == [mine.id] and held.jobs == 2
    assert held.unfinished_jobs == [running.id] and not held.empty

    with db.write() as tx:
        assert tx.users.delete("alice") == (1, 2)
    with db.read() as tx:
        assert tx.users.get("alice") is None
        assert tx.users.by_token_hash(_hash("alice")) is None
        assert tx.programs.get(mine.id) is None and tx.programs.get(theirs.id) is not None
        assert tx.jobs.get(done.id) is None and tx.jobs.get(running.id) is None
        assert tx.jobs.get(bobs_job.id) is not None  # a job outlives its program
        assert tx.users.by_token_hash(_hash("bob")).name == "bob"
        left = tx.session.execute(text("SELECT count(*) FROM api_tokens")).scalar_one()
    assert left == 1
    with pytest.raises(UserNotFound), db.write() as tx:
        tx.users.delete("alice")
