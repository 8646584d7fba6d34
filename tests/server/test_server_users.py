"""Users and tokens managed over HTTP by an admin: ``/v1/users`` and the remote client.

Against the shared real daemon (``program-engine serve`` on 127.0.0.1, SQLite, Docker): only
admins may, every change is in the audit log, one token is revoked while the others work, an
expired token gets 401 like a wrong one, and deleting a user stops and removes their jobs.
"""

from __future__ import annotations

import time

import httpx
import pytest

from engine.errors import (
    AuthenticationError,
    DuplicateUser,
    JobNotFound,
    PermissionDenied,
    ProgramNotFound,
    TokenNotFound,
    UserHasRecords,
    UserNotFound,
)
from engine.sandbox.container import LABEL_JOB
from tests.programs import SLEEPER, SLEEPER_METADATA

pytestmark = pytest.mark.docker

ROUTES = [
    ("GET", "/v1/users", None),
    ("POST", "/v1/users", {"name": "not-created"}),
    ("DELETE", "/v1/users/bob", None),
    ("GET", "/v1/users/bob/tokens", None),
    ("POST", "/v1/users/bob/tokens", {}),
    ("DELETE", "/v1/users/bob/tokens", None),
    ("DELETE", "/v1/users/bob/tokens/0123456789ab", None),
]


def _status(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _until(check, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_only_admins_manage_users(daemon, tokens) -> None:
    alice, anonymous = daemon.http(tokens["alice"]), daemon.http()
    for method, path, body in ROUTES:
        refused = _status(alice.request(method, path, json=body), 403)
        assert refused["error"] == "PermissionDenied" and "only an admin" in refused["detail"]
        _status(anonymous.request(method, path, json=body), 401)
    with daemon.client(tokens["alice"]) as client, pytest.raises(PermissionDenied):
        client.users()
    with daemon.client(tokens["root"]) as root:
        assert "not-created" not in [user.name for user in root.users(limit=None)]
        assert root.user_tokens("bob")[0].revoked_at is None  # bob kept his token


def test_an_admin_manages_users_and_tokens(daemon, tokens) -> None:
    with daemon.client(tokens["root"]) as root:
        first = root.add_user("dora", is_reviewer=True, expires_in=3600)
        assert first.user == "dora" and first.expires_at is not None
        assert first.token not in repr(first) and first.token_id in repr(first)
        with daemon.client(first.token) as dora:
            assert dora.user == "dora" and not dora.is_admin
        listed = {user.name: user for user in root.users(limit=None)}
        assert listed["dora"].is_reviewer and listed["dora"].active_tokens == 1

        second = root.issue_token("dora")
        assert second.expires_at is None and second.token_id != first.token_id
        ids = [token.token_id for token in root.user_tokens("dora")]
        assert sorted(ids) == sorted([first.token_id, second.token_id])
        raw = daemon.http(tokens["root"]).get("/v1/users/dora/tokens").text
        assert first.token not in raw and second.token not in raw and first.token_id in raw

        revoked = root.revoke_token("dora", first.token_id)
        assert revoked.token_id == first.token_id and revoked.revoked_at is not None
        _status(daemon.http(first.token).get("/v1/whoami"), 401)
        assert _status(daemon.http(second.token).get("/v1/whoami"), 200)["name"] == "dora"
        assert root.revoke_tokens("dora") == 1
        _status(daemon.http(second.token).get("/v1/whoami"), 401)

        with pytest.raises(DuplicateUser):
            root.add_user("dora")
        with pytest.raises(TokenNotFound):
            root.revoke_token("dora", "0123456789ab")
        with pytest.raises(UserNotFound):
            root.issue_token("nobody")
        for bad in (0.5, 10 ** 12):
            with pytest.raises(ValueError, match="expires_in"):
                root.issue_token("dora", expires_in=bad)
        with pytest.raises(ValueError, match="user name"):
            root.add_user("no such name")
        _status(daemon.http(tokens["root"]).post("/v1/users", json={"name": "x", "y": 1}), 422)

        entries = root.audit_log(object_id="dora", limit=None)
    assert [(e.action, e.actor, e.origin) for e in entries] == [
        ("user.add", "root", "http"), ("user.token", "root", "http"),
        ("user.token", "root", "http"), ("token.revoke", "root", "http"),
        ("auth.refused", "anonymous", "http"), ("user.revoke", "root", "http"),
        ("auth.refused", "anonymous", "http")]
    assert entries[1].details["token_id"] == first.token_id
    assert entries[3].details == {"token_id": first.token_id, "was_valid": True}
    assert entries[4].details == {"reason": "revoked", "token_id": first.token_id}


def test_an_expired_token_gets_401_like_a_wrong_one(daemon, tokens) -> None:
    with daemon.client(tokens["root"]) as root:
        issued = root.add_user("erin", expires_in=1)
        http = daemon.http(issued.token)
        assert _status(http.get("/v1/whoami"), 200)["name"] == "erin"
        assert _until(lambda: http.get("/v1/whoami").status_code == 401, 10)
        refused = _status(http.get("/v1/programs"), 401)
        wrong = _status(daemon.http("x" + issued.token[1:]).get("/v1/programs"), 401)
        assert refused["detail"] == wrong["detail"] and "not valid" in refused["detail"]
        [token] = root.user_tokens("erin")
        assert token.expires_at is not None and token.revoked_at is None
        refusals = root.audit_log(action="auth.refused", object_id="erin", limit=None)
    assert refusals and refusals[-1].details == {"reason": "expired",
                                                 "token_id": issued.token_id}


def test_deleting_a_user_stops_and_removes_their_jobs(daemon, tokens, docker) -> None:
    with daemon.client(tokens["root"]) as root:
        fred = root.add_user("fred")
        with daemon.client(fred.token) as client:
            program_id = client.upload_program(SLEEPER, SLEEPER_METADATA)
            job = client.run(program_id, {"seconds": 60})
            assert _until(lambda: job.status() == "RUNNING", 60), job.status()
        labelled = {"label": f"{LABEL_JOB}={job.job_id()}"}
        assert _until(lambda: docker.containers.list(filters=labelled), 20)

        with pytest.raises(UserHasRecords, match="owns 1 program"):
            root.delete_user("fred")
        assert _status(daemon.http(fred.token).get("/v1/whoami"), 200)["name"] == "fred"

        deletion = root.delete_user("fred", force=True)
        assert deletion.programs == [program_id] and deletion.jobs == 1
        assert deletion.cancelled_jobs == [job.job_id()]
        assert _until(lambda: not docker.containers.list(all=True, filters=labelled), 30)
        with pytest.raises(JobNotFound):
            root.job(job.job_id())
        with pytest.raises(ProgramNotFound):
            root.program(program_id)
        assert "fred" not in [user.name for user in root.users(limit=None)]
        with daemon.client(fred.token) as gone, pytest.raises(AuthenticationError):
            gone.programs()
        [entry] = root.audit_log(action="user.delete", object_id="fred", limit=None)
    assert entry.details == deletion.to_dict() and entry.actor == "root"
