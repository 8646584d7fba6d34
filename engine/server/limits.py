"""Request limits from ``policies/server.yaml``: header lines and bytes (431), body size
(413) and request rate (429).

The body limit is checked twice: on ``Content-Length`` before the application runs, and on
the bytes actually received, so a chunked body or a lying header is cut off at the limit too.
A multipart upload gets ``max_upload_bytes``, any other body ``max_body_bytes``. A refusal
on ``Content-Length`` is answered at once, without waiting for the body: the HTTP protocol
(:mod:`engine.server.protocol`) drops what of it still comes for a moment, then closes.

The rate limit is a token bucket per user, checked after authentication.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.errors import QuotaExceeded
from engine.server.policy import RateLimit, ServerPolicy
from engine.server.problems import Problem, ProblemRaised, refusal_logged


class BodyTooLarge(ProblemRaised):
    """Raised inside ``receive`` when a body grows past its limit; ``problem`` is the answer.

    An ``HTTPException``, so that the framework's body parsing lets it through unchanged.
    """


def _too_large(limit: int, what: str) -> Problem:
    return Problem(413, "body-too-large", "Request body too large",
                   f"the request body is larger than {limit} bytes ({what})",
                   {"error": "RemoteError", "limit": what})


def _headers_refused(what: str, limit: str) -> Problem:
    return Problem(431, "headers-too-large", "Request header fields too large",
                   f"the request has {what} ({limit})", {"error": "RemoteError", "limit": limit})


def _header_bytes(scope: Scope) -> int:
    """The size of the request line and headers as sent (give or take the spacing)."""
    size = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + 12
    size += len(scope.get("query_string") or b"") + 1
    return size + sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or [])


class RequestLimitMiddleware:
    """Refuse too many or too large headers with 431 and bodies over the limit with 413."""

    def __init__(self, app: ASGIApp, policy: ServerPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async def refuse(problem: Problem) -> None:
            await refusal_logged(scope, problem).send(send)

        raw_headers = scope.get("headers") or []
        bounds = self.policy.connections
        if len(raw_headers) > bounds.max_header_count:
            await refuse(_headers_refused(f"more than {bounds.max_header_count} header lines",
                                          "max_header_count"))
            return
        if _header_bytes(scope) > bounds.max_header_bytes:
            # A request whose headers came whole in one read passes h11's own limit, which
            # only bounds headers still incomplete.
            await refuse(_headers_refused(f"request line and headers over "
                                          f"{bounds.max_header_bytes} bytes", "max_header_bytes"))
            return
        headers = dict(raw_headers)
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
                await refuse(Problem(400, "bad-content-length", "Bad Content-Length",
                                     "the Content-Length header is not a byte count",
                                     {"error": "RemoteError"}))
                return
            if length > limit:
                await refuse(_too_large(limit, what))
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(_too_large(limit, what))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except BodyTooLarge as exc:
            if started:  # pragma: no cover - the app answered, then read on
                raise
            await refuse(exc.problem)


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
