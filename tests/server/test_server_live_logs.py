"""What a program prints reaches a daemon's clients while it runs: ``event: log`` on the job's
event stream, ``RemoteRuntimeJob.log_stream()`` and ``jobs logs --follow``; the log cap holds."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import threading

import pytest

from engine.sandbox.policy import load_sandbox_policy
from engine.server.policy import load_server_policy
from tests.server.conftest import CLI

pytestmark = pytest.mark.docker

PRINTER = textwrap.dedent(
    """
    import time

    def main(backend, user_messenger, **kwargs):
        print("first line", flush=True)
        time.sleep(0.05)
        print("second line", flush=True)
        time.sleep(kwargs["pause"])
        print("x" * kwargs["flood"], end="")
        print("last line", flush=True)
        return "printed"
    """
)
PRINTER_METADATA = {"name": "printer", "description": "Prints, pauses, prints.",
                    "max_execution_time": 120}


@pytest.fixture(scope="module")
def printer(daemon, tokens) -> str:
    with daemon.client(tokens["alice"]) as service:
        return service.upload_program(PRINTER, PRINTER_METADATA, new=True)


def _run(daemon, token: str, program_id: str, pause: float, flood: int) -> str:
    response = daemon.http(token).post("/v1/jobs", json={
        "program_id": program_id, "inputs": {"pause": pause, "flood": flood}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _log_events(daemon, token: str, job_id: str, on_log=None) -> tuple[list[dict], dict]:
    """The ``log`` events of the job's stream (data decoded) and its final event's data;
    ``on_log(piece)`` is called as each arrives."""
    pieces: list[dict] = []
    current: dict[str, str] = {}
    with daemon.http(token).stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    current[name] = value
                continue
            if current.get("event") == "log":
                assert "id" not in current  # a log piece never moves Last-Event-ID
                piece = json.loads(current["data"])
                pieces.append(piece)
                if on_log is not None:
                    on_log(piece)
            elif current.get("event") == "final":
                return pieces, json.loads(current["data"])
            current = {}
    raise AssertionError("the stream ended without a final event")


def test_printed_lines_arrive_as_log_events_while_the_job_runs(daemon, tokens, printer) -> None:
    token = tokens["alice"]
    job_id = _run(daemon, token, printer, pause=6, flood=0)
    http = daemon.http(token)
    seen_while: list[tuple[str, str]] = []  # (piece, job status when it arrived)

    def note(piece: dict) -> None:
        seen_while.append((piece["text"], http.get(f"/v1/jobs/{job_id}").json()["status"]))

    # The remote client and the CLI follow the same job at the same time.
    client_pieces: list[tuple[str, str]] = []

    def follow_with_the_client() -> None:
        with daemon.client(token) as service:
            job = service.job(job_id)
            for text in job.log_stream():
                client_pieces.append((text, job.status().value))

    follower = threading.Thread(target=follow_with_the_client, daemon=True)
    follower.start()
    env = {**os.environ, "PROGRAM_ENGINE_URL": daemon.url, "PROGRAM_ENGINE_TOKEN": token}
    cli = subprocess.Popen([str(CLI), "jobs", "logs", job_id, "--follow"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    pieces, final = _log_events(daemon, token, job_id, note)

    assert final == {"status": "DONE", "reason": None}
    text = "".join(piece["text"] for piece in pieces)
    assert text == "first line\nsecond line\nlast line\n"
    assert [piece["offset"] for piece in pieces] == [
        sum(len(p["text"]) for p in pieces[:i]) for i in range(len(pieces))]
    # Both early lines came during the pause, before the job ended.
    early = "".join(piece for piece, status in seen_while if status == "RUNNING")
    assert early.startswith("first line\nsecond line\n"), seen_while
    assert http.get(f"/v1/jobs/{job_id}/logs").text == text

    follower.join(timeout=60)
    assert "".join(piece for piece, _ in client_pieces) == text
    assert client_pieces[0][1] == "RUNNING", client_pieces
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert out == text


def test_the_log_cap_holds_on_the_stream(daemon, tokens, printer) -> None:
    cap = int(load_sandbox_policy().logs.max_bytes)
    job_id = _run(daemon, tokens["alice"], printer, pause=0, flood=cap + 200_000)
    pieces, final = _log_events(daemon, tokens["alice"], job_id)
    assert final["status"] == "DONE"
    text = "".join(piece["text"] for piece in pieces)
    stored = daemon.http(tokens["alice"]).get(f"/v1/jobs/{job_id}/logs").text
    assert text == stored
    kept, _, note = text.partition("\n[")
    assert len(kept.encode()) <= cap
    assert "more bytes of logs discarded" in note
    assert "last line" not in text
    assert max(len(piece["text"]) for piece in pieces) <= load_server_policy().max_log_event_chars
