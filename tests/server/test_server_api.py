"""The daemon over HTTP: the remote lifecycle, permissions, refusals and operations.

Everything runs against one real ``program-engine serve`` on 127.0.0.1 with SQLite and
Docker (the ``daemon`` fixture).
"""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from engine import (
    InputValidationError,
    JobNotFound,
    PermissionDenied,
    ProgramNotFound,
    ProgramRejected,
    RuntimeJobCancelled,
    RuntimeJobFailure,
)
from engine.errors import AuthenticationError, BackendError, MetadataError, ProgramError
from engine.metadata import load_metadata, validate_value
from engine.server.problems import MEDIA_TYPE, TYPE_PREFIX
from tests.programs import SLEEPER, SLEEPER_METADATA
from tests.server.conftest import (
    ECHO,
    ECHO_METADATA,
    REPO,
    tar_file,
    tar_gz,
)

pytestmark = pytest.mark.docker

HELLO = REPO / "program_source" / "hello_world"


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith(TYPE_PREFIX)
    return body


# --- the remote lifecycle --------------------------------------------------------------------


def test_the_remote_lifecycle_of_a_sample(daemon, tokens) -> None:
    with daemon.client(tokens["alice"]) as service:
        assert service.user == "alice" and not service.is_admin
        program_id = service.upload_program(str(HELLO), new=True)
        program = service.program(program_id)
        metadata = load_metadata(HELLO / "hello_world.json")
        assert program_id.startswith("hello-world-") and program.owner == "alice"
        assert program.version == 1
        assert program.parameters().metadata == metadata.spec.parameters
        assert program_id in {p.program_id for p in service.programs()}

        streamed: list = []
        job = service.run(program_id, {"iterations": 3},
                          callback=lambda job_id, message: streamed.append((job_id, message)))
        assert job.result(timeout=300) == "Hello, World!"
        assert job.status() == "DONE" and job.reason is None and job.error_message() is None
        interim = job.interim_results()
        assert [m["iteration"] for m in interim] == [0, 1, 2]
        for message in interim:
            validate_value(metadata.spec.interim_results, message, "interim result")
        deadline = time.monotonic() + 10
        while len(streamed) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert streamed == [(job.job_id(), m) for m in interim]
        metrics = job.metrics()
        assert metrics["wall_seconds"] > 0 and metrics["start_seconds"] > 0 and metrics["node"]
        assert job.inputs == {"iterations": 3}
        backends = {backend.name: backend for backend in service.backends()}
        assert job.backend() in backends and backends[job.backend()].num_qubits >= 5
        assert backends["ibmq_qasm_simulator"].alias_of == "aer_simulator"

        again = service.job(job.job_id())
        assert again.result() == "Hello, World!" and again.interim_results() == interim
        listed = service.jobs(program_id=program_id)
        assert [j.job_id() for j in listed] == [job.job_id()]
        assert listed[0].result() == "Hello, World!"  # a listed job fetches its result
        assert [j.job_id() for j in service.jobs(status="DONE", program_id=program_id)] == [
            job.job_id()]
        assert service.jobs(status="ERROR", program_id=program_id) == []

        service.update_program(program_id, description="Updated remotely.")
        assert service.program(program_id).description == "Updated remotely."
        assert service.program(program_id).version == 2
        service.update_program(program_id, data=str(HELLO / "hello_world.py"),
                               max_execution_time=100)
        assert service.program(program_id).version == 3
        assert service.program(program_id).max_execution_time == 100

        service.set_program_visibility(program_id, True)
        assert service.program(program_id).is_public
        service.delete_job(job.job_id())
        with pytest.raises(JobNotFound):
            service.job(job.job_id())
        service.delete_program(program_id)
        with pytest.raises(ProgramNotFound):
            service.program(program_id)


def test_custom_types_survive_the_wire(daemon, tokens) -> None:
    source = ("def main(backend, user_messenger, **kwargs):\n"
              "    user_messenger.publish({'twice': kwargs['a'] * 2})\n"
              "    return {'sum': kwargs['a'].sum(), 'c': kwargs['c']}\n")
    with daemon.client(tokens["alice"]) as service:
        program_id = service.upload_program(source, {**ECHO_METADATA, "name": "arrays"})
        job = service.run(program_id, {"a": np.arange(4.0), "c": 1 + 2j})
        result = job.result(timeout=120)
        assert result["sum"] == 6.0 and result["c"] == 1 + 2j
        assert np.array_equal(job.interim_results()[0]["twice"], np.arange(4.0) * 2)
        assert np.array_equal(job.inputs["a"], np.arange(4.0))


def test_failures_and_cancellation_raise_as_embedded(daemon, tokens) -> None:
    with daemon.client(tokens["alice"]) as service:
        failing = service.upload_program(
            "def main(backend, user_messenger, **kwargs):\n    raise ValueError('boom 42')\n",
            {**ECHO_METADATA, "name": "failing"})
        with pytest.raises(RuntimeJobFailure) as failure:
            service.run(failing).result(timeout=120)
        assert failure.value.reason == "program_exception"

        sleeper = service.upload_program(SLEEPER, SLEEPER_METADATA, new=True)
        job = service.run(sleeper, {"seconds": 120})
        deadline = time.monotonic() + 60
        while not job.interim_results() and time.monotonic() < deadline:
            time.sleep(0.1)
        job.cancel()
        assert job.wait_for_final_state(timeout=60) == "CANCELLED"
        assert job.reason == "user"
        with pytest.raises(RuntimeJobCancelled):
            job.result()


def test_refusals_raise_the_service_exceptions(daemon, tokens) -> None:
    with daemon.client(tokens["alice"]) as service:
        with pytest.raises(MetadataError) as bad_metadata:
            service.upload_program(SLEEPER, {"name": "x"})
        assert bad_metadata.value.problems
        with pytest.raises(ProgramRejected) as rejected:
            service.upload_program(
                "import os\ndef main(backend, user_messenger):\n    os.system('id')\n",
                {**SLEEPER_METADATA, "name": "hostile"})
        assert rejected.value.report.findings and not rejected.value.report.accepted
        with pytest.raises(ProgramError, match="main"):
            service.upload_program("x = 1\n", {**SLEEPER_METADATA, "name": "nomain"})
        program_id = service.upload_program(str(HELLO), new=True)
        with pytest.raises(InputValidationError) as invalid:
            service.run(program_id, {"iterations": -1})
        assert invalid.value.violations[0][0] == "$.iterations"
        with pytest.raises(BackendError, match="unknown backend"):
            service.run(program_id, {"iterations": 1}, options={"backend": "nope"})
        with pytest.raises(InputValidationError, match=r"options\.colour"):
            service.run(program_id, {"iterations": 1}, options={"colour": "red"})


# --- permissions ----------------------------------------------------------------------------


def test_the_visibility_and_permission_matrix(daemon, tokens) -> None:
    alice, bob, root = (daemon.http(tokens[name]) for name in ("alice", "bob", "root"))
    anonymous, forged = daemon.http(), daemon.http("x" * 43)
    upload = {"file": ("sleeper.py", SLEEPER.encode())}
    private = alice.post("/v1/programs", files=upload, data={
        "metadata": json.dumps(SLEEPER_METADATA), "new": "true"}).json()["id"]
    public = alice.post("/v1/programs", files=upload, data={
        "metadata": json.dumps({**SLEEPER_METADATA, "name": "shared"}), "new": "true"}).json()["id"]
    assert alice.put(f"/v1/programs/{public}/visibility",
                     json={"public": True}).status_code == 200

    def status(client: httpx.Client, method: str, path: str, **kwargs) -> int:
        return client.request(method, path, **kwargs).status_code

    program_reads = {
        (alice, private): 200, (bob, private): 404, (root, private): 200,
        (alice, public): 200, (bob, public): 200, (root, public): 200,
        (anonymous, private): 401, (forged, public): 401,
    }
    for (client, program_id), expected in program_reads.items():
        assert status(client, "GET", f"/v1/programs/{program_id}") == expected

    owner_only = [("PUT", "/visibility", {"json": {"public": False}}),
                  ("PATCH", "", {"json": {"description": "mine now"}}),
                  ("DELETE", "", {})]
    for method, suffix, kwargs in owner_only:
        assert status(bob, method, f"/v1/programs/{public}{suffix}", **kwargs) == 403
        assert status(bob, method, f"/v1/programs/{private}{suffix}", **kwargs) == 404
        assert status(anonymous, method, f"/v1/programs/{public}{suffix}", **kwargs) == 401

    hidden = bob.get(f"/v1/programs/{private}").json()
    missing = bob.get("/v1/programs/no-such-program").json()
    assert {k: v for k, v in hidden.items() if k != "detail"} == {
        k: v for k, v in missing.items() if k != "detail"}
    assert hidden["detail"] == f"program {private!r} not found"

    assert status(bob, "POST", "/v1/jobs", json={"program_id": private}) == 404
    run = bob.post("/v1/jobs", json={"program_id": public, "inputs": {"seconds": 0}})
    assert run.status_code == 201 and run.headers["location"] == f"/v1/jobs/{run.json()['id']}"
    job_id = run.json()["id"]
    job_reads = {alice: 404, bob: 200, root: 200, anonymous: 401}
    for client, expected in job_reads.items():
        for suffix in ("", "/interim", "/logs", "/stream"):
            assert status(client, "GET", f"/v1/jobs/{job_id}{suffix}") == expected, suffix
    assert status(alice, "POST", f"/v1/jobs/{job_id}/cancel") == 404
    assert status(alice, "DELETE", f"/v1/jobs/{job_id}") == 404

    visible_to_bob = {p["id"] for p in bob.get("/v1/programs").json()["programs"]}
    visible_to_root = {p["id"] for p in root.get("/v1/programs", params={"limit": 1000}).json()[
        "programs"]}
    assert public in visible_to_bob and private not in visible_to_bob
    assert {public, private} <= visible_to_root
    assert job_id in {j["id"] for j in root.get("/v1/jobs", params={"limit": 1000}).json()["jobs"]}
    assert job_id not in {j["id"] for j in alice.get("/v1/jobs").json()["jobs"]}

    assert status(root, "PUT", f"/v1/programs/{private}/visibility",
                  json={"public": True}) == 200
    assert status(root, "DELETE", f"/v1/programs/{private}") == 204
    assert status(alice, "GET", f"/v1/programs/{private}") == 404


def _final(client: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("DONE", "ERROR", "CANCELLED") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_a_non_owner_gets_the_missing_answer_on_every_route(daemon, tokens) -> None:
    """Bob probing alice's private program and job learns nothing a made-up id would not
    tell him, and changes nothing."""
    alice, bob = daemon.http(tokens["alice"]), daemon.http(tokens["bob"])
    metadata = json.dumps({**SLEEPER_METADATA, "name": "private-one"})
    program_id = alice.post("/v1/programs", files={"file": ("sleeper.py", SLEEPER.encode())},
                            data={"metadata": metadata}).json()["id"]
    job_id = alice.post("/v1/jobs", json={"program_id": program_id,
                                          "inputs": {"seconds": 0}}).json()["id"]
    assert _final(alice, job_id)["status"] == "DONE"  # with a result, interim and logs
    missing_program, missing_job = program_id[:-4] + "zzzz", job_id[:-6] + "000000"
    routes = [
        ("GET", "/v1/programs/{p}", {}),
        ("PUT", "/v1/programs/{p}", {"files": {"source": ("x.py", ECHO.encode())},
                                     "data": {"description": "mine now"}}),
        ("PATCH", "/v1/programs/{p}", {"json": {"description": "mine now"}}),
        ("PUT", "/v1/programs/{p}/visibility", {"json": {"public": True}}),
        ("DELETE", "/v1/programs/{p}", {}),
        ("POST", "/v1/jobs", {"json": {"program_id": "{p}"}}),
        ("GET", "/v1/jobs/{j}", {"params": {"include": ["result", "logs"]}}),
        ("GET", "/v1/jobs/{j}", {"params": {"wait": 0.2}, "headers": {"If-None-Match": "x"}}),
        ("GET", "/v1/jobs/{j}/result", {}),
        ("GET", "/v1/jobs/{j}/interim", {}),
        ("GET", "/v1/jobs/{j}/logs", {}),
        ("GET", "/v1/jobs/{j}/stream", {}),
        ("POST", "/v1/jobs/{j}/cancel", {}),
        ("DELETE", "/v1/jobs/{j}", {}),
    ]

    def ask(method: str, path: str, kwargs: dict, program: str, job: str) -> tuple:
        text = json.dumps(kwargs.get("json")).replace("{p}", program)
        options = {**kwargs, "json": json.loads(text)} if "json" in kwargs else kwargs
        response = bob.request(method, path.format(p=program, j=job), **options)
        body = response.text.replace(program, "<id>").replace(job, "<id>")
        return response.status_code, response.headers["content-type"], json.loads(body)

    for method, path, kwargs in routes:
        hidden = ask(method, path, kwargs, program_id, job_id)
        missing = ask(method, path, kwargs, missing_program, missing_job)
        assert hidden[0] == 404 and hidden == missing, (method, path, hidden, missing)

    assert {j["id"] for j in bob.get("/v1/jobs", params={"program_id": program_id}).json()[
        "jobs"]} == set()
    program = alice.get(f"/v1/programs/{program_id}").json()
    assert program["version"] == 1 and not program["is_public"]
    assert program["description"] == SLEEPER_METADATA["description"]
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "DONE" and not job["cancel_requested"]


def test_the_client_raises_404_and_403_as_the_service_does(daemon, tokens) -> None:
    with daemon.client(tokens["alice"]) as alice, daemon.client(tokens["bob"]) as bob:
        program_id = alice.upload_program(SLEEPER, {**SLEEPER_METADATA, "name": "mine"})
        with pytest.raises(ProgramNotFound):
            bob.program(program_id)
        alice.set_program_visibility(program_id, True)
        with pytest.raises(PermissionDenied):
            bob.delete_program(program_id)
    with daemon.client("not-a-token") as nobody, pytest.raises(AuthenticationError):
        nobody.programs()


# --- refusals ---------------------------------------------------------------------------------


def test_missing_bad_and_revoked_tokens_get_401(daemon) -> None:
    token = daemon.user("carol")
    assert daemon.http(token).get("/v1/whoami").json() == {"name": "carol", "is_admin": False}
    for client in (daemon.http(), daemon.http("garbage"), daemon.http("x" * 10_000)):
        response = client.get("/v1/programs")
        body = _problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer realm=")
        assert body["error"] == "AuthenticationError"
    basic = httpx.get(f"{daemon.url}/v1/programs", headers={"Authorization": f"Basic {token}"})
    _problem(basic, 401)

    from engine.store import open_database

    with open_database(home=daemon.home) as database, database.write() as tx:
        assert tx.users.revoke("carol") == 1
    body = _problem(daemon.http(token).get("/v1/whoami"), 401)
    assert "not valid" in body["detail"]


def test_malformed_and_invalid_bodies(daemon, tokens) -> None:
    alice = daemon.http(tokens["alice"])
    body = _problem(alice.post("/v1/jobs", content=b'{"program_id": "x", "inputs": {',
                               headers={"content-type": "application/json"}), 400)
    assert body["type"] == TYPE_PREFIX + "malformed-json" and "not valid JSON" in body["detail"]
    deep = b'{"program_id": "x", "inputs": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    _problem(alice.post("/v1/jobs", content=deep, headers={"content-type": "application/json"}),
             400)
    body = _problem(alice.post("/v1/jobs", json={"inputs": [], "colour": 1}), 422)
    fields = {field["loc"] for field in body["fields"]}
    assert {"body.program_id", "body.inputs", "body.colour"} <= fields
    body = _problem(alice.get("/v1/jobs", params={"status": "SLEEPING"}), 422)
    assert body["fields"][0]["loc"] == "status"
    body = _problem(alice.get("/v1/jobs", params={"limit": -1}), 422)
    assert body["fields"][0]["loc"] == "query.limit"
    body = _problem(alice.post("/v1/programs", files={"file": ("x.exe", b"MZ")}), 422)
    assert body["error"] == "ProgramError" and ".py file or a folder archive" in body["detail"]
    _problem(alice.get("/v1/no-such-route"), 404)
    _problem(alice.delete("/v1/jobs"), 405)


def test_oversized_bodies_get_413(daemon, tokens) -> None:
    from engine.server.policy import load_server_policy

    policy = load_server_policy()
    alice = daemon.http(tokens["alice"])
    big = b'{"program_id": "x", "inputs": {"a": "' + b"x" * policy.max_body_bytes + b'"}}'
    body = _problem(alice.post("/v1/jobs", content=big,
                               headers={"content-type": "application/json"}), 413)
    assert "max_body_bytes" in body["detail"]

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(policy.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    body = _problem(alice.post("/v1/jobs", content=chunks(),
                               headers={"content-type": "application/json"}), 413)
    assert "max_body_bytes" in body["detail"]
    huge = b"#" * (policy.max_upload_bytes + 1)
    body = _problem(alice.post("/v1/programs", files={"file": ("big.py", huge)}), 413)
    assert "max_upload_bytes" in body["detail"]


def test_the_rate_limit_answers_429_with_retry_after(start_daemon) -> None:
    # A slow refill, so that even a loaded machine asks faster than tokens come back (at the
    # default 50 per second, requests slower than 20 ms each never empty the bucket).
    burst = 20
    daemon = start_daemon(server={"rate_limit": {"requests_per_second": 1, "burst": burst}})
    hammer = daemon.http(daemon.user("hammer"))
    responses = [hammer.get("/v1/whoami") for _ in range(2 * burst)]
    statuses = [response.status_code for response in responses]
    assert statuses[:burst] == [200] * burst and 429 in statuses
    limited = responses[statuses.index(429)]  # a later request may find a refilled token
    body = _problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1 and body["error"] == "QuotaExceeded"
    other = daemon.http(daemon.user("bystander"))
    assert other.get("/v1/whoami").status_code == 200  # limits are per user


def test_hostile_archives_are_refused_naming_the_rule(daemon, hostile_archives) -> None:
    client = daemon.http(daemon.user("mallory"))
    for case, (name, data, rule) in hostile_archives.items():
        body = _problem(client.post("/v1/programs", files={"file": (name, data)}), 422)
        assert body["type"] == TYPE_PREFIX + "archive-rejected", case
        assert body["rule"] == rule and f"(rule: {rule})" in body["detail"], case
        assert body["error"] == "ProgramError"
    owned = [p for p in client.get("/v1/programs").json()["programs"] if p["owner"] == "mallory"]
    assert owned == []


def test_a_folder_archive_uploads_with_its_metadata(daemon, tokens) -> None:
    from tests.server.conftest import good_program_files

    data = tar_gz([tar_file(n, c) for n, c in good_program_files()])
    alice = daemon.http(tokens["alice"])
    response = alice.post("/v1/programs", files={"file": ("packed.tgz", data)})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "packed"
    with daemon.client(tokens["alice"]) as service:
        assert service.run(response.json()["id"]).result(timeout=120) == "packed"


def test_scanner_refusals_carry_the_findings_and_are_counted(daemon, tokens) -> None:
    def rejections() -> float:
        text = httpx.get(f"{daemon.url}/metrics").text
        line = next(line for line in text.splitlines()
                    if line.startswith("program_engine_scanner_rejections_total"))
        return float(line.split()[-1])

    before = rejections()
    alice = daemon.http(tokens["alice"])
    body = _problem(alice.post("/v1/programs", files={"source": (
        "x.py", b"import subprocess\ndef main(backend, user_messenger):\n"
                b"    subprocess.run(['id'])\n")},
        data={"metadata": json.dumps({**ECHO_METADATA, "name": "spawn"})}), 422)
    assert body["type"] == TYPE_PREFIX + "program-rejected"
    assert body["report"]["verdict"] == "rejected"
    assert any(f["blocking"] for file in body["report"]["files"] for f in file["findings"])
    assert rejections() == before + 1


# --- waiting and operations --------------------------------------------------------------------


def test_a_long_poll_returns_when_the_job_changes(daemon, tokens) -> None:
    alice = daemon.http(tokens["alice"])
    with daemon.client(tokens["alice"]) as service:
        program_id = service.upload_program(ECHO, ECHO_METADATA)
    job = alice.post("/v1/jobs", json={"program_id": program_id, "inputs": {"n": 7}}).json()
    first = alice.get(f"/v1/jobs/{job['id']}")
    etag = first.headers["etag"]
    seen = [first.json()["status"]]
    deadline = time.monotonic() + 120
    while seen[-1] != "DONE" and time.monotonic() < deadline:
        started = time.monotonic()
        answer = alice.get(f"/v1/jobs/{job['id']}", params={"wait": 20, "include": "result"},
                           headers={"If-None-Match": etag})
        assert time.monotonic() - started < 19  # it woke on the change, not at the timeout
        assert answer.status_code == 200
        etag = answer.headers["etag"]
        seen.append(answer.json()["status"])
    assert seen[-1] == "DONE" and answer.json()["result"] == 7
    # A final job no longer changes: asking with its ETag answers exactly 304, with no body.
    conditional = alice.get(f"/v1/jobs/{job['id']}", headers={"If-None-Match": etag})
    assert conditional.status_code == 304, conditional.text
    assert conditional.content == b"" and conditional.headers["etag"] == etag
    unchanged = alice.get(f"/v1/jobs/{job['id']}", params={"wait": 0.2},
                          headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag
    assert alice.get(f"/v1/jobs/{job['id']}/result").json() == 7


def test_health_readiness_metrics_and_docs(daemon, tokens) -> None:
    assert httpx.get(f"{daemon.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{daemon.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": "ok", "docker": "ok"}
    with daemon.client(tokens["alice"]) as service:
        job = service.run(service.upload_program(ECHO, {**ECHO_METADATA, "name": "m"}), {"n": 1})
        job.result(timeout=120)
    text = httpx.get(f"{daemon.url}/metrics").text
    assert 'program_engine_jobs{reason="",status="DONE"}' in text
    assert "program_engine_job_duration_seconds_count" in text
    assert "program_engine_sandbox_start_seconds_count" in text
    assert 'route="/v1/jobs/{job_id}"' in text and 'route="/v1/programs"' in text
    counts = [line for line in text.splitlines()
              if line.startswith("program_engine_sandbox_start_seconds_count")]
    assert float(counts[0].split()[-1]) >= 1
    assert httpx.get(f"{daemon.url}/docs").status_code == 200
    schema = httpx.get(f"{daemon.url}/openapi.json").json()
    for path in ("/v1/programs", "/v1/programs/{program_id}", "/v1/jobs",
                 "/v1/jobs/{job_id}/stream", "/v1/jobs/{job_id}/result", "/metrics"):
        assert path in schema["paths"], path


def test_metrics_name_no_user_and_no_id(daemon) -> None:
    token = daemon.user("metrics-watcher-q7")
    with daemon.client(token) as service:
        program_id = service.upload_program(ECHO, {**ECHO_METADATA, "name": "metric-secret"})
        job = service.run(program_id, {"n": 3})
        assert job.result(timeout=120) == 3
    with daemon.http(token) as client:
        assert client.get(f"/v1/jobs/{job.job_id()}/logs").status_code == 200
        assert client.get("/v1/programs/no-such-program-q7").status_code == 404
    text = httpx.get(f"{daemon.url}/metrics").text
    for secret in ("metrics-watcher-q7", "metric-secret", program_id, job.job_id(), token,
                   "no-such-program-q7"):
        assert secret not in text, secret
    labels = set()
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        inside = line[line.index("{") + 1:line.rindex("}")]
        labels |= {pair.split("=", 1)[0] for pair in inside.split('",') if pair}
        if 'route="' in line:  # route templates only: the ids of a path never become labels
            route = line.split('route="', 1)[1].split('"', 1)[0]
            assert route == "<unmatched>" or route.startswith("/"), route
    assert labels <= {"status", "reason", "method", "route", "le"}, labels


def test_no_server_path_in_upload_errors_or_tracebacks(daemon) -> None:
    import tempfile

    from tests.server.conftest import tar_file, tar_gz

    hidden = (tempfile.gettempdir() + "/", "program-engine-upload", "/opt/engine", "/usr/lib",
              "/usr/local", str(REPO), "/program/")
    client = daemon.http(daemon.user("pathfinder"))
    metadata = json.dumps({**ECHO_METADATA, "name": "nomain"})
    answers = [
        client.post("/v1/programs", files={"file": ("nomain.py", b"x = 1\n")},
                    data={"metadata": metadata}),
        client.post("/v1/programs", files={"file": ("syn.py", b"def main(:\n")},
                    data={"metadata": metadata}),
        client.post("/v1/programs", files={"file": ("p.tgz", tar_gz([
            tar_file("packed/packed.py", b"def main(backend, user_messenger):\n    pass\n"),
            tar_file("packed/packed.json", b"{not json")]))}),
    ]
    for answer in answers:
        _problem(answer, 422)
        assert not any(part in answer.text for part in hidden), answer.text
    assert answers[0].json()["file"] == "nomain.py"
    assert answers[1].json()["detail"].startswith("syn.py:1: ")
    assert answers[2].json()["detail"].startswith("packed/packed.json: ")

    failing = ("import json\n\ndef main(backend, user_messenger, **kwargs):\n"
               "    return json.loads('{')\n")
    program_id = client.post("/v1/programs", files={"source": ("x.py", failing.encode())},
                             data={"metadata": json.dumps({**ECHO_METADATA, "name": "broken"})}
                             ).json()["id"]
    job_id = client.post("/v1/jobs", json={"program_id": program_id}).json()["id"]
    error = _final(client, job_id)["error"]
    assert error["type"] == "JSONDecodeError"
    assert 'File "broken.py", line 4, in main' in error["traceback"]
    assert "<python>/json/decoder.py" in error["traceback"]
    assert not any(part in error["traceback"] + error["message"] for part in hidden)


def test_an_oversized_body_sent_at_once_is_answered_not_hung(daemon, tokens) -> None:
    """The chunk that crosses the limit may be the body's last: the daemon must answer 413
    at once instead of waiting for more body that will never come."""
    import socket
    from urllib.parse import urlsplit

    from engine.server.policy import load_server_policy

    limit = load_server_policy().max_body_bytes
    address = urlsplit(daemon.url)
    payload = b"x" * (limit + 1)
    request = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {address.hostname}\r\n"
        f"Authorization: Bearer {tokens['alice']}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n{len(payload):x}\r\n"
    ).encode() + payload + b"\r\n0\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_duplicate_name_and_cancelling_an_ended_job_answer_409(daemon) -> None:
    from engine.errors import RuntimeDuplicateProgramError, RuntimeInvalidStateError

    token = daemon.user("carol")
    http = daemon.http(token)
    with daemon.client(token) as service:
        program_id = service.upload_program(ECHO, {**ECHO_METADATA, "name": "twice"})
        with pytest.raises(RuntimeDuplicateProgramError, match=program_id):
            service.upload_program(ECHO, {**ECHO_METADATA, "name": "twice"})
        again = http.post("/v1/programs", files={"file": ("echo.py", ECHO.encode())},
                          data={"metadata": json.dumps({**ECHO_METADATA, "name": "twice"})})
        assert _problem(again, 409)["error"] == "DuplicateProgram"
        assert service.upload_program(ECHO, {**ECHO_METADATA, "name": "twice"}, new=True) \
            != program_id

        job = service.run(program_id, {"n": 1})
        job.wait_for_final_state(timeout=120)
        refused = http.post(f"/v1/jobs/{job.job_id()}/cancel")
        assert _problem(refused, 409)["error"] == "InvalidJobState"
        with pytest.raises(RuntimeInvalidStateError, match="has already ended"):
            job.cancel()
        assert job.status() == "DONE"
