"""Request limits from ``policies/server.yaml``: body size (413) and request rate (429).

The body limit is checked twice: on ``Content-Length`` before the application runs, and on
the bytes actually received, so a chunked body or a lying header is cut off at the limit too.
A multipart upload gets ``max_upload_bytes``, any other body ``max_body_bytes``.

The rate limit is a token bucket per user, checked after authentication.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.errors import QuotaExceeded
from engine.server.policy import RateLimit, ServerPolicy
from engine.server.problems import Problem


class BodyTooLarge(HTTPException):
    """Raised inside ``receive`` when a body grows past its limit; ``problem`` is the answer.

    An ``HTTPException``, so that the framework's body parsing lets it through unchanged.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.status, problem.detail)


def _too_large(limit: int, what: str) -> Problem:
    return Problem(413, "body-too-large", "Request body too large",
                   f"the request body is larger than {limit} bytes ({what})",
                   {"error": "RemoteError", "limit": what})


class BodyLimitMiddleware:
    """Refuse request bodies over the policy's limit with 413 problem+json."""

    def __init__(self, app: ASGIApp, policy: ServerPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/"):
            limit, what = self.policy.max_upload_bytes, "max_upload_bytes"
        else:
            limit, what = self.policy.max_body_bytes, "max_body_bytes"
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await Problem(400, "bad-content-length", "Bad Content-Length",
                              "the Content-Length header is not a byte count",
                              {"error": "RemoteError"}).send(send)
                return
            if length > limit:
                await _discard_body(receive, limit)
                await _too_large(limit, what).send(send)
                return

        received = 0
        started = over = body_done = False

        async def limited_receive() -> Message:
            nonlocal received, over, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    over = True
                    raise BodyTooLarge(_too_large(limit, what))
            return message

        async def drain() -> None:
            # Let a client still sending read the answer; once the body has ended, another
            # receive() would wait for the client to disconnect.
            if not body_done:
                await _discard_body(receive, limit)

        async def draining_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if over:
                    await drain()
            await send(message)

        try:
            await self.app(scope, limited_receive, draining_send)
        except BodyTooLarge as exc:
            if started:  # pragma: no cover - the app answered, then read on
                raise
            await drain()
            await exc.problem.send(send)


async def _discard_body(receive: Receive, limit: int) -> None:
    """Read and drop up to ``limit`` more bytes of the body, so that a client still sending
    it reads the refusal instead of a reset connection; past that the connection closes."""
    discarded = 0
    while discarded <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        discarded += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per user: ``burst`` requests at once, ``requests_per_second`` refill."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, user: str) -> None:
        """Take one request from ``user``'s bucket; :class:`RateLimited` if it is empty."""
        now = time.monotonic()
        rate, burst = self.limit.requests_per_second, float(self.limit.burst)
        with self._lock:
            bucket = self._buckets.get(user)
            if bucket is None:
                bucket = self._buckets[user] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = (1 - bucket.tokens) / rate
        raise RateLimited(user, self.limit, wait)


class RateLimited(QuotaExceeded):
    """Too many requests from one user; ``retry_after`` is the wait in seconds."""

    def __init__(self, user: str, limit: RateLimit, wait: float) -> None:
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(
            f"user {user!r} sent more than {limit.burst} requests at once or "
            f"{limit.requests_per_second:g} per second (rate_limit); retry after "
            f"{self.retry_after} s"
        )
