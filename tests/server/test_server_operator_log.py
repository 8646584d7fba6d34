"""The operator's view of a real daemon: its start-up summary, one structured line per job
event and per refusal (naming the user, never the token), and the periodic prune of program
images no job has used, which spares the images queued and running jobs need."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import docker.errors as docker_errors
import httpx
import pytest

from engine.sandbox.images import LABEL_CONTENT_HASH
from tests.server.conftest import Daemon, policy_dir

pytestmark = pytest.mark.docker

SLEEPER = ("import time\n\ndef main(backend, user_messenger, **kwargs):\n"
           "    time.sleep(kwargs.get('seconds', 60))\n    return {marker!r}\n")


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "description": "Sleeps.", "max_execution_time": 120}


def _lines(daemon: Daemon) -> list[dict[str, Any]]:
    lines = []
    for text in daemon.log_text().splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def _wait_for(daemon: Daemon, match: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _lines(daemon):
            if match(line):
                return line
        time.sleep(0.2)
    raise AssertionError(f"no such log line within {timeout} s:\n{daemon.log_text()[-4000:]}")


def _program_images(docker: Any, prefix: str) -> dict[str, str]:
    """``{tag: content hash}`` of the program images under ``prefix`` (one listing call:
    images other tests remove meanwhile cannot make it fail)."""
    found = {}
    for row in docker.api.images(filters={"label": "org.program-engine.kind=program"}):
        for tag in row.get("RepoTags") or ():
            if tag.startswith(f"{prefix}/program:"):
                found[tag] = row["Labels"][LABEL_CONTENT_HASH]
    return found


@pytest.fixture
def prefix(docker: Any, runtime_image: str) -> Any:
    """An image prefix of this test's own, holding the runtime image under a second tag (so
    nothing is rebuilt), and every image under it removed afterwards."""
    name = f"pe-oplog-{uuid.uuid4().hex[:8]}"
    _, tag = runtime_image.rsplit(":", 1)
    docker.images.get(runtime_image).tag(f"{name}/runtime", tag)
    yield name
    for row in docker.api.images():
        for ref in row.get("RepoTags") or ():
            if ref.startswith(f"{name}/"):
                with contextlib.suppress(docker_errors.APIError):
                    docker.images.remove(ref)


def test_the_operator_sees_start_jobs_refusals_and_image_prunes(
        tmp_path: Path, docker: Any, runtime_image: str, prefix: str) -> None:
    policies = policy_dir(tmp_path / "policies", {
        "sandbox": {"images": {"prune_unused_after_seconds": 3, "prune_every_seconds": 1}},
        "service": {"max_concurrent_jobs": 1},
        "server": {"rate_limit": {"requests_per_second": 2, "burst": 30}},
    })
    daemon = Daemon(tmp_path / "home", policies, log_level="info",
                    extra_args=("--log-format", "json"),
                    extra_env={"ENGINE_IMAGE_PREFIX": prefix})
    daemon.home.mkdir(parents=True)
    alice, bob = daemon.user("alice"), daemon.user("bob")
    daemon.start()
    try:
        started = _wait_for(daemon, lambda line: line.get("event") == "serve.started")
        assert started["store"].startswith("sqlite") and started["store"].endswith("engine.db")
        assert started["executor"] == "local" and started["users"] == 2
        assert started["docker"] == docker.version()["Version"]
        assert started["oci_runtime"]  # runc, or runsc when configured
        assert started["runtime_image"] == docker.images.get(runtime_image).id

        with daemon.client(alice) as service:
            # Each upload builds the program's image; a job needs it from when it is queued.
            service.upload_program(SLEEPER.format(marker="unused"), _metadata("unused"))
            unused = set(_program_images(docker, prefix))
            running_id = service.upload_program(SLEEPER.format(marker="running"),
                                                _metadata("sleeper"))
            running = service.run(running_id, {"seconds": 60})
            queued_id = service.upload_program(SLEEPER.format(marker="queued"),
                                               _metadata("waiter"))
            queued = service.run(queued_id, {"seconds": 1})
            needed = set(_program_images(docker, prefix)) - unused
            assert len(unused) == 1 and len(needed) == 2

            # The unused program's image goes; the queued job's and the running job's stay.
            pruned = _wait_for(daemon, lambda line: line.get("event") == "images.pruned")
            assert {pruned["image"]} == unused
            assert set(_program_images(docker, prefix)) == needed
            assert queued.status().value == "QUEUED" and running.status().value == "RUNNING"

            # Refusals: a bad token, a missing one, an invalid request, a rate limit.
            wrong = "pe_" + "x" * 40
            assert httpx.get(f"{daemon.url}/v1/jobs", headers={
                "Authorization": f"Bearer {wrong}"}).status_code == 401
            assert httpx.get(f"{daemon.url}/v1/jobs").status_code == 401
            assert daemon.http(alice).get("/v1/jobs", params={"limit": -1}).status_code == 422
            statuses = [daemon.http(bob).get("/v1/whoami").status_code for _ in range(40)]
            assert 429 in statuses
            running.cancel()
            queued.cancel()
            running.wait_for_final_state(timeout=60)

        job_lines = [line for line in _lines(daemon) if line.get("event", "").startswith("job.")]
        mine = [(line["event"], line["job"]) for line in job_lines]
        assert ("job.queued", running.job_id()) in mine and ("job.queued", queued.job_id()) in mine
        assert ("job.running", running.job_id()) in mine
        ended = {line["job"]: line for line in job_lines if line["event"] == "job.ended"}
        ended_running = _wait_for(daemon, lambda line: line.get("event") == "job.ended"
                                  and line.get("job") == running.job_id())
        assert ended_running["status"] == "CANCELLED" and ended_running["reason"] == "user"
        assert ended[queued.job_id()]["status"] == "CANCELLED"
        assert all(line["user"] == "alice" for line in job_lines)

        refusals = [line for line in _lines(daemon)
                    if line.get("event") in ("auth.refused", "request.refused",
                                             "request.limited")]
        auth = [line for line in refusals if line["event"] == "auth.refused"]
        assert {line["reason"] for line in auth} >= {"invalid", "missing"}
        assert all(line.get("user") is None for line in auth)
        invalid = [line for line in refusals if line["event"] == "request.refused"]
        assert any(line["user"] == "alice" and line["status"] == 422
                   and "limit" in line["fields"] for line in invalid)
        assert any(line["user"] == "bob" and line["status"] == 429
                   for line in refusals if line["event"] == "request.limited")
        text = daemon.log_text()
        assert wrong not in text and alice not in text and bob not in text  # never a token
    finally:
        daemon.stop()

