"""Rate-limited warnings and errors (the filter's logic, with a clock the test moves)."""

from __future__ import annotations

import logging

import pytest

from engine.server.log_limits import RateLimitFilter, install
from engine.server.policy import LogRateLimit


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str = "accept failed: %s", *args: object, level: int = logging.ERROR,
            name: str = "asyncio") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or ("EMFILE",), None)


@pytest.fixture
def limited() -> tuple[RateLimitFilter, _Clock]:
    clock = _Clock()
    return RateLimitFilter(LogRateLimit(burst=3, interval_seconds=10, max_kinds=4), clock), clock


def test_a_burst_passes_then_alike_records_are_counted_and_reported(limited) -> None:
    limiter, clock = limited
    passed = [limiter.filter(_record("accept failed: %s", n)) for n in range(10)]
    assert passed == [True] * 3 + [False] * 7 and limiter.suppressed_total == 7
    assert limiter.filter(_record("another template")) is True  # another kind
    clock.now += 10
    first = _record("accept failed: %s", "EMFILE")
    assert limiter.filter(first) is True
    assert first.getMessage() == (
        "accept failed: EMFILE [7 more like this suppressed in the previous 10 s]")
    for _ in range(4):  # a record without arguments: its note must not be %-formatted
        limiter.filter(_plain())
    clock.now += 10
    last = _plain()
    assert limiter.filter(last) is True
    assert last.getMessage() == ("Invalid HTTP request received. "
                                 "[1 more like this suppressed in the previous 10 s]")


def _plain() -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1,
                             "Invalid HTTP request received.", (), None)


def test_information_and_one_record_on_several_handlers(limited) -> None:
    limiter, _clock = limited
    assert all(limiter.filter(_record("GET %s", "/", level=logging.INFO)) for _ in range(50))
    record = _record()
    assert limiter.filter(record) and limiter.filter(record)  # a second handler: same answer
    for _ in range(2):
        limiter.filter(_record())
    blocked = _record()
    assert limiter.filter(blocked) is False and limiter.filter(blocked) is False
    assert limiter.suppressed_total == 1  # decided once


def test_the_table_of_kinds_is_bounded(limited) -> None:
    limiter, clock = limited
    for n in range(50):
        clock.now += 0.01
        assert limiter.filter(_record(f"message {n}")) is True
        assert len(limiter._windows) <= 4


def test_install_filters_every_handler(monkeypatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    uvicorn_handler = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger("uvicorn"), "handlers", [uvicorn_handler])
    limiter = install(LogRateLimit(burst=1, interval_seconds=60, max_kinds=8))
    assert len(root.handlers) == 1 and limiter in root.handlers[0].filters
    assert limiter in uvicorn_handler.filters
