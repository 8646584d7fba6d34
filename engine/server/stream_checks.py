"""Token re-checks shared by the event streams of one token (or one dashboard session).

Each open stream re-checks its token every ``stream_recheck_seconds`` (a store read), which
with 500 streams is 250 reads a second. A stream due for a re-check at ``due`` may use any
answer obtained by a check that *started* at or after ``due`` (its own or another stream's
of the same key), so a revoked token still ends each stream no later than its own check
would have; a check in progress is awaited rather than repeated. Store outages are never
shared: the stream asks again next time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

import anyio
from anyio import to_thread

from engine.errors import AuthenticationError


class _Check:
    def __init__(self, started: float) -> None:
        self.started = started
        self.done = anyio.Event()
        self.value: Any = None
        self.error: AuthenticationError | None = None


class SharedChecks:
    """The latest re-check per key; entries older than ``keep_seconds`` are dropped."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self.checks: dict[Hashable, _Check] = {}
        self.runs = 0

    async def check(self, key: Hashable, due: float, recheck: Callable[[], Any]) -> Any:
        """``recheck()``'s answer from a check started at or after ``due``; raises what it
        raised (:class:`AuthenticationError` shared, anything else only to this caller)."""
        found = self.checks.get(key)
        if found is None or found.started < due:
            found = _Check(time.monotonic())
            self._prune(found.started)
            self.checks[key] = found
            self.runs += 1
            try:
                found.value = await to_thread.run_sync(recheck)
            except AuthenticationError as error:
                found.error = error
            except BaseException:
                if self.checks.get(key) is found:
                    del self.checks[key]
                raise
            finally:
                found.done.set()
        else:
            await found.done.wait()
            if found.error is None and found.value is None:  # that check failed otherwise
                return await self.check(key, due, recheck)
        if found.error is not None:
            raise found.error
        return found.value

    def _prune(self, now: float) -> None:
        for key, check in list(self.checks.items()):
            if check.done.is_set() and now - check.started > self.keep_seconds:
                del self.checks[key]
