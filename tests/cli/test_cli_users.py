"""``program-engine users``: adding users, issuing and revoking tokens, listing, deleting."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.accounts import TOKEN_LENGTH, token_hash
from engine.cli import app
from engine.settings import get_settings
from engine.store import open_database

SETTINGS_ENV = ("ENGINE_HOME", "ENGINE_DATABASE_URL", "ENGINE_CONFIG", "ENGINE_HOST",
                "ENGINE_PORT")


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``users(*args)``: run ``program-engine users ... --home <tmp>``; the settings the
    command sets for its process are undone afterwards."""
    for name in SETTINGS_ENV:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["users", *args, "--home", str(tmp_path)])

    yield run
    get_settings.cache_clear()


def _lookup(home: Path, token: str):
    with open_database(home=home) as database, database.read() as tx:
        return tx.users.by_token_hash(token_hash(token))


def test_add_prints_a_token_once_and_stores_only_its_hash(users, tmp_path: Path) -> None:
    added = users("add", "alice")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[0]
    assert len(token) == TOKEN_LENGTH
    user = _lookup(tmp_path, token)
    assert user is not None and user.name == "alice" and not user.is_admin
    assert token.encode() not in (tmp_path / "engine.db").read_bytes()

    admin = users("add", "root", "--admin")
    assert _lookup(tmp_path, admin.stdout.split()[0]).is_admin


def test_token_list_and_revoke(users, tmp_path: Path) -> None:
    first = users("add", "alice").stdout.split()[0]
    second = users("token", "alice").stdout.split()[0]
    assert first != second and _lookup(tmp_path, second).name == "alice"
    listed = json.loads(users("list", "--json").stdout)
    assert [(u["name"], u["active_tokens"]) for u in listed] == [("alice", 2)]
    revoked = users("revoke", "alice")
    assert revoked.exit_code == 0 and "revoked 2 token(s)" in revoked.stdout
    assert _lookup(tmp_path, first) is None and _lookup(tmp_path, second) is None
    assert json.loads(users("list", "--json").stdout)[0]["active_tokens"] == 0
    table = users("list")
    assert "alice" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("add", "bad name"), "user name"),
    (("token", "nobody"), "does not exist"),
    (("revoke", "nobody"), "does not exist"),
    (("tokens", "nobody"), "does not exist"),
    (("delete", "nobody"), "does not exist"),
    (("add", "carol", "--expires-in", "soon"), "not a duration"),
    (("add", "carol", "--expires-in", "0"), "expires_in must be a number of seconds"),
    (("add", "carol", "--expires-in", "11000w"), "max_token_lifetime_seconds"),
])
def test_refusals_exit_2_naming_the_problem(users, args, message) -> None:
    result = users(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_adding_a_user_twice_is_refused(users) -> None:
    assert users("add", "alice").exit_code == 0
    again = users("add", "alice")
    assert again.exit_code == 2 and "already exists" in again.output


def _audit(home: Path, action: str) -> list:
    with open_database(home=home) as database, database.read() as tx:
        return tx.audit.list(action=action, limit=None)


def test_one_token_is_revoked_by_its_id(users, tmp_path: Path) -> None:
    first = json.loads(users("add", "alice", "--json").stdout)
    assert first["user"] == "alice" and first["expires_at"] is None
    assert first["token_id"] == token_hash(first["token"])[:12]
    second = users("token", "alice")
    assert f"token {token_hash(second.stdout.strip())[:12]} for alice" in second.stderr
    listed = json.loads(users("tokens", "alice", "--json").stdout)
    assert {t["token_id"]: t["state"] for t in listed} == {
        first["token_id"]: "valid", token_hash(second.stdout.strip())[:12]: "valid"}
    assert first["token"] not in users("tokens", "alice", "--json").stdout

    revoked = users("revoke", "alice", "--token", first["token_id"])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {first['token_id']} of alice" in revoked.stdout
    assert _lookup(tmp_path, first["token"]) is None
    assert _lookup(tmp_path, second.stdout.strip()).name == "alice"
    table = users("tokens", "alice").stdout
    assert first["token_id"] in table and "revoked" in table and "valid" in table
    entry = _audit(tmp_path, "token.revoke")[-1]
    assert entry.object == "alice" and entry.details == {"token_id": first["token_id"],
                                                         "was_valid": True}
    unknown = users("revoke", "alice", "--token", "0123456789ab")
    assert unknown.exit_code == 2 and "has no token" in unknown.output


def test_an_expired_token_is_refused(users, tmp_path: Path) -> None:
    added = json.loads(users("add", "alice", "--expires-in", "1s", "--json").stdout)
    lasting = users("token", "alice", "--expires-in", "30d").stdout.strip()
    assert added["expires_at"] is not None
    issued = [e.details for e in _audit(tmp_path, "user.token")]
    assert issued[0]["token_id"] == added["token_id"] and issued[0]["expires_at"]
    deadline = time.monotonic() + 10
    while _lookup(tmp_path, added["token"]) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _lookup(tmp_path, added["token"]) is None
    assert _lookup(tmp_path, lasting).name == "alice"
    states = {t["token_id"]: t["state"] for t in json.loads(users("tokens", "alice",
                                                                   "--json").stdout)}
    assert states[added["token_id"]] == "expired"
    assert json.loads(users("list", "--json").stdout)[0]["active_tokens"] == 1


def _records(home: Path) -> tuple[str, str, str]:
    """alice's public program with a queued job of hers and one of bob's; their ids."""
    with open_database(home=home) as database, database.write() as tx:
        program = tx.programs.create(
            name="mine", owner="alice", metadata={"name": "mine"}, source_hash="0" * 64,
            entry="mine", files={"mine.py": b"def main(backend, user_messenger):\n    pass\n"},
            is_public=True)
        jobs = [tx.jobs.create(program_id=program.id, program_version=1, owner=owner,
                               backend="aer_simulator", inputs="{}")
                for owner in ("alice", "bob")]
    return program.id, jobs[0].id, jobs[1].id


def test_delete_refuses_a_user_with_records_unless_forced(users, tmp_path: Path) -> None:
    alices = users("add", "alice").stdout.strip()
    users("add", "bob")
    program_id, job_id, bobs_job = _records(tmp_path)

    refused = users("delete", "alice")
    assert refused.exit_code == 2
    assert "owns 1 program(s) and 1 job(s)" in refused.output and "--force" in refused.output
    assert _lookup(tmp_path, alices).name == "alice"  # nothing changed

    deleted = json.loads(users("delete", "alice", "--force", "--json").stdout)
    assert deleted == {"user": "alice", "programs": [program_id], "jobs": 1,
                       "cancelled_jobs": sorted([job_id, bobs_job])}
    assert [u["name"] for u in json.loads(users("list", "--json").stdout)] == ["bob"]
    assert _lookup(tmp_path, alices) is None
    with open_database(home=tmp_path) as database, database.read() as tx:
        assert tx.programs.get(program_id) is None and tx.jobs.get(job_id) is None
        assert tx.jobs.get(bobs_job).status.name == "CANCELLED"  # its program is gone
    entry = _audit(tmp_path, "user.delete")[-1]
    assert entry.details == deleted and entry.object == "alice"

    users("add", "alice")  # the name again: a new user who inherits nothing
    with open_database(home=tmp_path) as database, database.read() as tx:
        assert tx.users.holdings("alice").empty
    empty = users("delete", "alice")
    assert empty.exit_code == 0 and "deleted user alice with 0 program(s)" in empty.stdout
