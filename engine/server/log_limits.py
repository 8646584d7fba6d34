"""Rate-limited warnings and errors: a flood of one failure writes a few lines, not 170 MB.

When a client floods the daemon (thousands of half-open connections, a descriptor limit
reached), the same warning or traceback would otherwise be written once per event. The
:class:`RateLimitFilter` lets ``burst`` records of one kind through per ``interval_seconds``
and drops the rest, counting them; the first record of that kind let through afterwards
ends with how many were suppressed. A kind is the logger's name, the level, the message
template (not its arguments) and the exception's class. Records below WARNING (the access
log, information) pass untouched.

:func:`install` puts one filter on every handler the daemon logs through. The filter
decides once per record, so a record that reaches several handlers is counted once.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.server.policy import LogRateLimit

#: The loggers uvicorn writes through without propagating to the root.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_DECISION = "_program_engine_rate_decision"


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0


class RateLimitFilter(logging.Filter):
    """Let at most ``burst`` alike WARNING-or-worse records through per interval."""

    def __init__(self, limit: LogRateLimit,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.limit = limit
        self._clock = clock
        self._windows: dict[tuple[object, ...], _Window] = {}
        self._lock = threading.Lock()
        self.suppressed_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, _DECISION, None)
        if decided is not None:
            return bool(decided)
        passed = self._decide(record)
        setattr(record, _DECISION, passed)
        return passed

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        exc_class = record.exc_info[0] if record.exc_info else None
        kind = (record.name, record.levelno, str(record.msg)[:200], exc_class)
        now = self._clock()
        with self._lock:
            window = self._windows.get(kind)
            if window is None or now - window.started >= self.limit.interval_seconds:
                earlier = window.suppressed if window is not None else 0
                if window is None and len(self._windows) >= self.limit.max_kinds:
                    self._forget(now)
                window = self._windows[kind] = _Window(now)
                if earlier:
                    _note_suppressed(record, earlier, self.limit.interval_seconds)
            if window.passed < self.limit.burst:
                window.passed += 1
                return True
            window.suppressed += 1
            self.suppressed_total += 1
            return False

    def _forget(self, now: float) -> None:
        """Make room for a new kind: drop the ended windows, or else the oldest half."""
        interval = self.limit.interval_seconds
        ended = [kind for kind, window in self._windows.items()
                 if now - window.started >= interval]
        if not ended:
            by_age = sorted(self._windows, key=lambda kind: self._windows[kind].started)
            ended = by_age[: max(1, len(by_age) // 2)]
        for kind in ended:
            del self._windows[kind]


def _note_suppressed(record: logging.LogRecord, count: int, interval: float) -> None:
    note = f" [{count} more like this suppressed in the previous {interval:g} s]"
    if record.args:
        record.msg = str(record.msg) + note.replace("%", "%%")
    else:
        record.msg = str(record.msg) + note


def install(limit: LogRateLimit) -> RateLimitFilter:
    """Rate-limit every handler of the root logger and of uvicorn's loggers.

    Without a root handler, Python writes WARNING and worse through its last-resort handler,
    which takes no filter; a plain stderr handler at WARNING takes its place.
    """
    limiter = RateLimitFilter(limit)
    root = logging.getLogger()
    if not root.handlers:
        fallback = logging.StreamHandler(sys.stderr)
        fallback.setLevel(logging.WARNING)
        fallback.setFormatter(logging.Formatter("%(levelname)s:%(name)s: %(message)s"))
        root.addHandler(fallback)
    handlers = {handler for name in ("", *_UVICORN_LOGGERS)
                for handler in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(limiter)
    return limiter
