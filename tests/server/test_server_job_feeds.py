"""One reader per followed job: many streams on one job cost the store what one stream does."""

from __future__ import annotations

import json
import re
import threading

import httpx
import pytest

from tests.server.conftest import TICKER, TICKER_METADATA
from tests.server.test_server_streams import _events

pytestmark = pytest.mark.docker

MESSAGES = 6


@pytest.fixture(scope="module")
def ticker(daemon, tokens) -> str:
    with daemon.client(tokens["alice"]) as service:
        return service.upload_program(TICKER, {**TICKER_METADATA, "name": "ticker-fanout"})


def _stream_reads(daemon) -> int:
    text = httpx.get(f"{daemon.url}/metrics").text
    found = re.search(r"^program_engine_event_stream_reads_total (\S+)$", text, re.M)
    assert found, "the stream read counter is missing from /metrics"
    return int(float(found.group(1)))


def _follow(daemon, tokens, ticker, followers: list[str]) -> tuple[list[list[dict]], int]:
    """Run the ticker, followed by one stream per token in ``followers``; every stream's
    events and the store reads the streams made."""
    before = _stream_reads(daemon)
    response = daemon.http(tokens["alice"]).post("/v1/jobs", json={
        "program_id": ticker, "inputs": {"count": MESSAGES, "interval": 0.3}})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    results: list[list[dict]] = [[] for _ in followers]
    errors: list[BaseException] = []

    def follow(index: int, token: str) -> None:
        try:
            with daemon.http(token).stream("GET", f"/v1/jobs/{job_id}/stream") as stream:
                assert stream.status_code == 200
                results[index] = _events(stream)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=follow, args=(i, token))
               for i, token in enumerate(followers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results, _stream_reads(daemon) - before


def test_many_streams_on_one_job_share_one_reader(daemon, tokens, ticker) -> None:
    _, alone = _follow(daemon, tokens, ticker, [tokens["alice"]])
    # 20 streams: the owner's and an admin's (10 each, under the per-user cap) share the feed.
    followers = [tokens["alice"]] * 10 + [tokens["root"]] * 10
    results, shared = _follow(daemon, tokens, ticker, followers)
    for events in results:
        interim = [e for e in events if e.get("event") == "interim"]
        assert [int(e["id"]) for e in interim] == list(range(1, MESSAGES + 1))
        assert [json.loads(e["data"])["tick"] for e in interim] == list(range(MESSAGES))
        assert events[-1]["event"] == "final"
        assert json.loads(events[-1]["data"]) == {"status": "DONE", "reason": None}
    # Each joining stream reads its backlog once; what is new is read once for all of them.
    # One reader per stream would cost about len(followers) times what one stream costs.
    assert alone >= MESSAGES // 2
    assert shared - len(followers) <= 3 * alone, (shared, alone)
