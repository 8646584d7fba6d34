"""Reviews and the audit log over HTTP: a real daemon on 127.0.0.1, real sandboxes.

The daemon's policy puts Bandit's B311 (``random``) in the review band. alice uploads, bob
is a reviewer (added with ``users add --reviewer``), carol is neither, root is an admin.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from engine import ProgramNotApproved
from engine.errors import (
    InputValidationError,
    InvalidReviewState,
    PermissionDenied,
    ReviewNotFound,
)
from engine.server.problems import MEDIA_TYPE, TYPE_PREFIX
from tests.server.conftest import CLI, REPO

pytestmark = pytest.mark.docker

RANDOM = ("import random\n\ndef main(backend, user_messenger, **kwargs):\n"
          "    return random.random()\n")
METADATA = {"name": "dice", "description": "Rolls.", "max_execution_time": 60,
            "is_public": True}
BAND = {"review": {"review_band": {"min_severity": None, "rule_ids": ["B311"]}}}


def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [str(CLI), *args] + (["--home", str(home)] if home is not None else [])
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def crew(start_daemon, runtime_image: str):
    daemon = start_daemon(**BAND)
    added = _cli("users", "add", "bob", "--reviewer", home=daemon.home)
    assert added.returncode == 0, added.stderr
    tokens = {"bob": added.stdout.strip(), "alice": daemon.user("alice"),
              "carol": daemon.user("carol"), "root": daemon.user("root", admin=True)}
    clients = {name: daemon.client(token) for name, token in tokens.items()}
    yield daemon, tokens, clients
    for client in clients.values():
        client.close()


def _problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["type"] == TYPE_PREFIX + slug
    return body


def test_the_review_story_over_http(crew) -> None:
    daemon, tokens, clients = crew
    alice, bob = clients["alice"], clients["bob"]
    program_id = alice.upload_program(RANDOM, METADATA)
    assert alice.program(program_id).review_status == "pending_review"

    with daemon.http(tokens["alice"]) as http:
        body = _problem(http.post("/v1/jobs", json={"program_id": program_id}), 409,
                        "program-not-approved")
    assert body["pending_version"] == 1 and body["review"] == f"/v1/reviews/{program_id}/1"
    with pytest.raises(ProgramNotApproved) as refused:
        alice.run(program_id)
    assert refused.value.pending_version == 1

    run = _cli("jobs", "run", program_id, "--url", daemon.url, "--token", tokens["alice"])
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "no approved version" in run.stderr

    assert [(r.program_id, r.version) for r in bob.reviews()] == [(program_id, 1)]
    review = bob.review(program_id, 1)
    assert (review.uploader, review.visibility) == ("alice", "public")
    assert review.diff[f"{METADATA['name']}.py"].startswith("--- /dev/null")
    assert any(line["text"] == "    return random.random()"
               for finding in review.findings for line in finding["context"])
    shown = _cli("review", "show", program_id, "1", "--url", daemon.url,
                 "--token", tokens["bob"])
    assert shown.returncode == 0 and "+    return random.random()" in shown.stdout
    assert "\x1b[" not in shown.stdout  # no colour into a pipe

    assert review.approve("fine for dice").status == "approved"
    job = alice.run(program_id)
    assert isinstance(job.result(), float)
    assert alice.job_record(job.job_id()).program_version == 1
    assert alice.reviews(status="approved")[0].review_comment == "fine for dice"


def test_refusals_over_http_change_nothing(crew) -> None:
    daemon, tokens, clients = crew
    alice, bob, carol, root = (clients[n] for n in ("alice", "bob", "carol", "root"))
    public = alice.upload_program(RANDOM, METADATA)
    private = alice.upload_program(RANDOM, {**METADATA, "name": "secret", "is_public": False})
    before = len(root.audit_log(limit=None))

    cases = [
        ("bob", f"/v1/reviews/{public}/1/reject", {"comment": " "}, 422, "invalid-inputs"),
        ("carol", f"/v1/reviews/{public}/1/approve", {"comment": "me"}, 403,
         "permission-denied"),
        ("bob", f"/v1/reviews/{private}/1/approve", {}, 404, "review-not-found"),
        ("alice", f"/v1/reviews/{public}/1/approve", {}, 403, "permission-denied"),
        ("bob", f"/v1/reviews/{public}/7/approve", {}, 404, "review-not-found"),
    ]
    for user, path, body, status, slug in cases:
        with daemon.http(tokens[user]) as http:
            _problem(http.post(path, json=body), status, slug)
    assert root.audit_log(limit=None)[before:] == []
    assert bob.review(public, 1).status == "pending_review"

    bob.approve_version(public, 1, "ok")
    with pytest.raises(InvalidReviewState):
        bob.approve_version(public, 1, "again")
    with pytest.raises(PermissionDenied):
        carol.approve_version(public, 1, "me")
    with pytest.raises(ReviewNotFound):
        bob.review(private, 1)
    with pytest.raises(InputValidationError):
        bob.reject_version(public, 1, "")
    alice.delete_program(public)
    with pytest.raises(ReviewNotFound):
        bob.approve_version(public, 1, "gone")


def test_the_audit_log_over_http_names_client_and_request(crew) -> None:
    daemon, tokens, clients = crew
    alice, root = clients["alice"], clients["root"]
    with daemon.http(tokens["alice"]) as http:
        _problem(http.get("/v1/audit"), 403, "permission-denied")
        response = http.put("/v1/programs/nope/visibility", json={"public": True},
                            headers={"X-Request-ID": "req-42"})
        assert response.status_code == 404
    program_id = alice.upload_program(RANDOM, METADATA)
    with daemon.http("not-a-token") as http:
        assert http.get("/v1/programs", headers={"X-Request-ID": "bad-1"}).status_code == 401
    with daemon.http(tokens["alice"]) as http:
        assert http.put(f"/v1/programs/{program_id}/visibility", json={"public": False},
                        headers={"X-Request-ID": "req-43"}).status_code == 200

    entries = root.audit_log(limit=None)
    upload = next(e for e in entries if e.action == "program.upload")
    assert (upload.actor, upload.object, upload.origin, upload.client) == (
        "alice", program_id, "http", "127.0.0.1")
    refused = next(e for e in entries if e.action == "auth.refused")
    assert (refused.actor, refused.request_id, refused.details) == (
        "anonymous", "bad-1", {"reason": "invalid"})
    visibility = root.audit_log(action="program.visibility", object_id=program_id)
    assert [(e.request_id, e.details) for e in visibility] == [("req-43", {"public": False})]
    assert root.audit_log(actor="alice", action="program.upload")[0].seq == upload.seq

    with daemon.http(tokens["root"]) as http:
        page = http.get("/v1/audit", params={"limit": 2, "skip": 1}).json()
        assert [e["seq"] for e in page["entries"]] == [entries[1].seq, entries[2].seq]
        since = http.get("/v1/audit", params={"since": upload.at.isoformat()}).json()
        assert since["entries"][0]["seq"] == upload.seq
        _problem(http.get("/v1/audit", params={"since": "2026-01-01T00:00:00"}), 422,
                 "invalid-inputs")
    verified = _cli("audit", "verify", home=daemon.home)
    assert verified.returncode == 0, verified.stderr
