"""Errors as problem documents, and back: the client raises the class the service raised."""

from __future__ import annotations

import json

import httpx
import pytest

from engine import errors
from engine.client.wire import _error_from
from engine.server.archives import ArchiveRejected
from engine.server.limits import RateLimited, RateLimiter
from engine.server.policy import RateLimit, load_server_policy
from engine.server.problems import MEDIA_TYPE, TYPE_PREFIX, problem_for


def _round_trip(exc: BaseException) -> tuple[dict, Exception, httpx.Response]:
    problem = problem_for(exc)
    response = httpx.Response(problem.status, content=problem.body(),
                              headers={"content-type": MEDIA_TYPE, **problem.headers})
    return json.loads(problem.body()), _error_from(response), response


def _report():
    from engine.scan import scan_files

    return scan_files({"bad.py": b"import os\ndef main(backend, user_messenger):\n"
                                 b"    os.system('id')\n"})


CASES = [
    (errors.ProgramNotFound("program 'x' not found"), 404, errors.ProgramNotFound),
    (errors.JobNotFound("job 'y' not found"), 404, errors.JobNotFound),
    (errors.PermissionDenied("program 'x' belongs to another user"), 403,
     errors.PermissionDenied),
    (errors.MetadataError("2 problems", [("name", "required"), ("spec.x", "bad")]), 422,
     errors.MetadataError),
    (errors.InputValidationError([("$.iterations", "-1 is less than 0")]), 422,
     errors.InputValidationError),
    (errors.ProgramError("no main", "p.py", 3), 422, errors.ProgramError),
    (errors.BackendRejected("too many qubits", limit="max_qubits"), 422,
     errors.BackendRejected),
    (errors.BackendError("unknown backend 'nope'"), 422, errors.BackendError),
    (errors.DecodeError("ndarray: object dtype refused"), 422, errors.DecodeError),
    (errors.QuotaExceeded("100 queued jobs"), 429, errors.QuotaExceeded),
    (errors.SandboxUnavailable("Docker cannot be reached"), 503, errors.SandboxUnavailable),
    (errors.ImageBuildError("build failed"), 500, errors.ImageBuildError),
    (errors.AuthenticationError("missing bearer token"), 401, errors.AuthenticationError),
    (ArchiveRejected("links are not allowed", "link", "p/x", "p.tgz"), 422, errors.ProgramError),
]


@pytest.mark.parametrize(("exc", "status", "raised"), CASES,
                         ids=[type(case[0]).__name__ for case in CASES])
def test_each_error_has_its_status_and_comes_back_as_its_class(exc, status, raised) -> None:
    document, back, _response = _round_trip(exc)
    assert document["status"] == status
    assert document["type"].startswith(TYPE_PREFIX) and document["title"]
    assert document["detail"] == str(exc)
    assert type(back) is raised
    assert str(back) == str(exc)


def test_details_survive_the_round_trip() -> None:
    _doc, back, _ = _round_trip(errors.MetadataError("bad", [("name", "required")]))
    assert back.problems == [("name", "required")]
    document, back, _ = _round_trip(errors.InputValidationError([("$.n", "too big")]))
    assert back.violations == [("$.n", "too big")]
    assert document["fields"] == [{"loc": "$.n", "msg": "too big"}]
    _doc, back, _ = _round_trip(errors.ProgramError("no main", "p.py", 3))
    assert (back.filename, back.line) == ("p.py", 3)
    _doc, back, _ = _round_trip(errors.BackendRejected("too many", limit="max_shots"))
    assert back.limit == "max_shots"
    document, _back, _ = _round_trip(ArchiveRejected("links are not allowed", "link", "p/x"))
    assert (document["rule"], document["member"]) == ("link", "p/x")


def test_a_rejected_upload_carries_the_whole_report() -> None:
    report = _report()
    assert not report.accepted
    document, back, _ = _round_trip(errors.ProgramRejected(report))
    assert document["report"] == report.to_dict()
    assert type(back) is errors.ProgramRejected and str(back) == str(
        errors.ProgramRejected(report))
    assert back.report.to_dict() == report.to_dict()
    assert [f.rule_id for f in back.report.findings] == [f.rule_id for f in report.findings]


def test_unauthenticated_carries_a_challenge() -> None:
    _doc, _back, response = _round_trip(errors.AuthenticationError("no token"))
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_the_rate_limiter_refuses_past_its_burst_with_retry_after() -> None:
    limiter = RateLimiter(RateLimit(requests_per_second=1, burst=3))
    for _ in range(3):
        limiter.check("alice")
    with pytest.raises(RateLimited) as limited:
        limiter.check("alice")
    limiter.check("bob")  # buckets are per user
    document, back, response = _round_trip(limited.value)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert document["retry_after"] == 1 and type(back) is errors.QuotaExceeded


def test_a_plain_value_error_comes_back_as_one() -> None:
    document, back, _ = _round_trip(ValueError("created_after must be timezone-aware"))
    assert document["status"] == 422 and type(back) is ValueError
    assert str(back) == "created_after must be timezone-aware"


def test_unexpected_errors_hide_their_message() -> None:
    document, back, _ = _round_trip(RuntimeError("secret path /root/x"))
    assert document["status"] == 500 and "secret" not in document["detail"]
    assert type(back) is errors.RemoteError and back.status == 500


def test_a_non_problem_answer_is_a_remote_error() -> None:
    back = _error_from(httpx.Response(502, text="Bad Gateway"))
    assert type(back) is errors.RemoteError and back.status == 502 and "Bad Gateway" in str(back)


def test_the_shipped_server_policy_loads() -> None:
    policy = load_server_policy()
    assert policy.max_upload_bytes >= policy.max_body_bytes > 0
    assert policy.archive.max_files <= policy.archive.max_entries


def test_a_broken_server_policy_names_the_key(tmp_path, monkeypatch) -> None:
    from tests.server.conftest import policy_dir

    folder = policy_dir(tmp_path / "p", {"server": {"max_body_bytes": -1}})
    monkeypatch.setenv("ENGINE_POLICY_DIR", str(folder))
    with pytest.raises(errors.PolicyError, match="max_body_bytes"):
        load_server_policy()
