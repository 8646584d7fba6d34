"""``program-engine users``: adding users, issuing and revoking tokens, listing."""

from __future__ import annotations

import json
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
])
def test_refusals_exit_2_naming_the_problem(users, args, message) -> None:
    result = users(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_adding_a_user_twice_is_refused(users) -> None:
    assert users("add", "alice").exit_code == 0
    again = users("add", "alice")
    assert again.exit_code == 2 and "already exists" in again.output
