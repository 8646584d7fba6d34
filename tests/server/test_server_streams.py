"""Server-sent events: order, resumption after a dropped connection, nothing lost or repeated."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.server.conftest import TICKER, TICKER_METADATA

pytestmark = pytest.mark.docker


def _events(response: httpx.Response, stop_after_id: int | None = None) -> list[dict]:
    """Parse events off a live stream; stop after the event with id ``stop_after_id``."""
    events: list[dict] = []
    current: dict = {}
    for line in response.iter_lines():
        if line == "":
            if "event" in current or "data" in current:
                events.append(current)
                if current.get("event") == "final":
                    break
                if stop_after_id is not None and current.get("id") == str(stop_after_id):
                    break
            current = {}
            continue
        if line.startswith(":"):
            events.append({"comment": line})
            continue
        name, _, value = line.partition(": ")
        current[name] = value
    return events


@pytest.fixture(scope="module")
def ticker(daemon, tokens) -> str:
    with daemon.client(tokens["alice"]) as service:
        return service.upload_program(TICKER, TICKER_METADATA)


def _run(daemon, token: str, program_id: str, count: int, interval: float = 0.3) -> str:
    response = daemon.http(token).post("/v1/jobs", json={
        "program_id": program_id, "inputs": {"count": count, "interval": interval}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_dropped_stream_resumes_with_last_event_id(daemon, tokens, ticker) -> None:
    job_id = _run(daemon, tokens["alice"], ticker, count=8)
    alice = daemon.http(tokens["alice"])
    with alice.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = _events(response, stop_after_id=3)
    status = alice.get(f"/v1/jobs/{job_id}").json()["status"]
    assert status == "RUNNING"  # the connection dropped mid-job
    with alice.stream("GET", f"/v1/jobs/{job_id}/stream",
                      headers={"Last-Event-ID": "3"}) as response:
        rest = _events(response)
    interim = [e for e in first + rest if e.get("event") == "interim"]
    assert [int(e["id"]) for e in interim] == list(range(1, 9))
    assert [json.loads(e["data"])["tick"] for e in interim] == list(range(8))
    final = rest[-1]
    assert final["event"] == "final" and json.loads(final["data"]) == {
        "status": "DONE", "reason": None}
    assert "id" not in final


def test_a_finished_job_replays_from_any_point(daemon, tokens, ticker) -> None:
    job_id = _run(daemon, tokens["alice"], ticker, count=6, interval=0)
    alice = daemon.http(tokens["alice"])
    with alice.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        whole = _events(response)
    assert [e["id"] for e in whole if e.get("event") == "interim"] == [
        str(i) for i in range(1, 7)]
    with alice.stream("GET", f"/v1/jobs/{job_id}/stream",
                      params={"last_event_id": 4}) as response:
        tail = _events(response)
    assert [e.get("id") for e in tail if "event" in e] == ["5", "6", None]
    interim = alice.get(f"/v1/jobs/{job_id}/interim", params={"after": 4}).json()
    assert [m["seq"] for m in interim] == [5, 6]
    assert interim[0]["data"]["tick"] == 4  # a JSON value, not JSON text
    bad = alice.get(f"/v1/jobs/{job_id}/stream", headers={"Last-Event-ID": "four"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["loc"] == "Last-Event-ID"


def test_the_client_resumes_a_cut_stream_without_loss_or_repeat(daemon, tokens, ticker,
                                                                 proxy) -> None:
    count = 10
    received: list[int] = []
    third = threading.Event()

    def on_message(job_id: str, message: dict) -> None:
        received.append(message["tick"])
        if len(received) == 3:
            third.set()

    from engine.client import RemoteRuntimeService

    with daemon.client(tokens["alice"]) as direct, \
            RemoteRuntimeService(proxy.url, tokens["alice"], timeout=30) as through_proxy:
        job = through_proxy.run(ticker, {"count": count, "interval": 0.3}, callback=on_message)
        assert third.wait(timeout=120)
        accepted = proxy.accepted
        proxy.cut()
        assert direct.job(job.job_id()).status() == "RUNNING"
        assert job.result(timeout=120) == count
        deadline = time.monotonic() + 30
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        job.cancel_result_streaming()
    assert received == list(range(count))
    assert proxy.cuts == 1 and proxy.accepted > accepted  # it did reconnect


def test_a_deleted_job_ends_its_stream(daemon, tokens, ticker) -> None:
    job_id = _run(daemon, tokens["alice"], ticker, count=50, interval=0.2)
    alice = daemon.http(tokens["alice"])
    with alice.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("id: "):
                break
        assert alice.delete(f"/v1/jobs/{job_id}").status_code == 204
        rest = list(lines)
    assert "event: gone" in rest
    assert alice.get(f"/v1/jobs/{job_id}").status_code == 404
