"""Connection caps against the descriptor limit, and the fixed answers the protocol writes."""

from __future__ import annotations

import h11
import pytest

from engine import errors
from engine.server.connections import (
    PER_CLIENT,
    TOTAL,
    ConnectionGuard,
    connection_budget,
    descriptor_limit,
)
from engine.server.policy import load_server_policy
from engine.server.protocol import BODY_TIMEOUT, HEADER_TIMEOUT, HEADERS_TOO_LARGE, REFUSED


def _limits(**changes):
    return load_server_policy().connections.model_copy(update=changes)


def test_the_total_stays_below_the_descriptor_limit() -> None:
    limits = _limits(fd_reserve_fraction=0.25, fd_reserve_min=256, max_total=None,
                     max_per_client=256)
    assert connection_budget(limits, 20_000).max_total == 15_000
    small = connection_budget(limits, 1024)
    assert (small.max_total, small.reserve, small.max_per_client) == (768, 256, 256)
    # A quarter of the reserve each for lingering refusals and one batch of accepts.
    assert (small.max_lingering, small.accept_backlog) == (64, 64)
    assert connection_budget(limits, 100_000).accept_backlog == 2048  # uvicorn's default
    assert connection_budget(_limits(max_total=100), 20_000).max_total == 100
    assert connection_budget(_limits(max_total=10**6), 20_000).max_total < 20_000
    assert connection_budget(limits).descriptor_limit == descriptor_limit()
    with pytest.raises(errors.ConfigurationError, match="RLIMIT_NOFILE 200"):
        connection_budget(limits, 200)


def test_the_guard_caps_each_address_and_the_total() -> None:
    guard = ConnectionGuard(connection_budget(_limits(max_total=5, max_per_client=3), 20_000))
    assert [guard.admit("10.0.0.1") for _ in range(4)] == [None, None, None, PER_CLIENT]
    assert [guard.admit("10.0.0.2") for _ in range(3)] == [None, None, TOTAL]
    guard.release("10.0.0.1")
    assert guard.admit("10.0.0.2") is None and guard.total == 5
    assert guard.refused == 2 and dict(guard.by_address) == {"10.0.0.1": 2, "10.0.0.2": 3}
    for _ in range(3):
        guard.release("10.0.0.2")
    assert "10.0.0.2" not in guard.by_address


def test_refused_connections_linger_only_a_few_at_a_time() -> None:
    guard = ConnectionGuard(connection_budget(_limits(fd_reserve_min=8, fd_reserve_fraction=0),
                                              100))
    assert guard.budget.max_lingering == 2
    assert [guard.start_linger() for _ in range(3)] == [True, True, False]
    guard.end_linger()
    assert guard.start_linger() is True


@pytest.mark.parametrize(("raw", "status"), [(REFUSED, 503), (HEADERS_TOO_LARGE, 431),
                                             (HEADER_TIMEOUT, 408), (BODY_TIMEOUT, 408)])
def test_the_fixed_answers_are_whole_http_responses(raw: bytes, status: int) -> None:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    response = client.next_event()
    assert isinstance(response, h11.Response) and response.status_code == status
    headers = dict(response.headers)
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"] == b"application/problem+json"
    body = client.next_event()
    assert isinstance(body, h11.Data) and len(body.data) == int(headers[b"content-length"])
    assert isinstance(client.next_event(), h11.EndOfMessage)


def test_streams_must_leave_worker_threads(tmp_path, monkeypatch) -> None:
    from tests.server.conftest import policy_dir

    folder = policy_dir(tmp_path / "p", {"server": {"max_streams_total": 128,
                                                    "worker_threads": 128}})
    monkeypatch.setenv("ENGINE_POLICY_DIR", str(folder))
    with pytest.raises(errors.PolicyError, match="max_streams_total"):
        load_server_policy()
