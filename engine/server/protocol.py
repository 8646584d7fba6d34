"""uvicorn's HTTP/1.1 protocol (h11), bounded against slow, stale and too many clients.

uvicorn closes an idle connection between requests (keep-alive), but has no timeout while a
request comes in: a client sending its headers a byte at a time, or a body a byte at a
time, holds its connection (and a descriptor) for ever, and nothing caps how many such
connections are open. :class:`BoundedH11Protocol` adds, per connection:

- a header timeout: from the connection's opening (or the first byte of a following
  request) to the end of the request headers, ``header_timeout_seconds``;
- a body deadline (Apache's ``mod_reqtimeout`` rule): ``body_timeout_seconds`` plus one
  second for every ``body_min_bytes_per_second`` bytes received. Time while uvicorn has
  paused reading (the app is behind) does not count against the client;
- after an answer given before the body was read (413 from ``Content-Length``), the rest
  of the body is read and dropped for ``unread_body_linger_seconds`` at most, then the
  connection closes;
- request headers over ``max_header_bytes`` get 431 (h11 refuses them; uvicorn would say
  400);
- the :class:`ConnectionGuard`'s caps: a connection over them gets a fixed 503 at once.

A timed-out request gets 408 when part of it came and no answer has started; then the
connection closes. The class is bound to one guard and policy by :func:`bounded_protocol`.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from engine.server.connections import ConnectionGuard
from engine.server.policy import Connections
from engine.server.problems import MEDIA_TYPE, Problem

log = logging.getLogger(__name__)


def raw_response(problem: Problem) -> bytes:
    """A whole HTTP/1.1 response for ``problem`` that closes the connection, as bytes."""
    body = problem.body()
    lines = [f"HTTP/1.1 {problem.status} {HTTPStatus(problem.status).phrase}",
             f"content-type: {MEDIA_TYPE}", f"content-length: {len(body)}",
             "connection: close",
             *(f"{name.lower()}: {value}" for name, value in problem.headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


REFUSED = raw_response(Problem(
    503, "too-many-connections", "Too many connections",
    "the server holds as many connections as it allows, from this address or in all; "
    "retry later", {"error": "RemoteError"}, {"Retry-After": "1"}))
HEADERS_TOO_LARGE = raw_response(Problem(
    431, "headers-too-large", "Request header fields too large",
    "the request line and headers are larger than the server accepts (max_header_bytes)",
    {"error": "RemoteError", "limit": "max_header_bytes"}))


def _timed_out(what: str, limit: str) -> bytes:
    return raw_response(Problem(
        408, "request-timeout", "Request timeout",
        f"the request {what} did not arrive in time ({limit})",
        {"error": "RemoteError", "limit": limit}))


HEADER_TIMEOUT = _timed_out("headers", "header_timeout_seconds")
BODY_TIMEOUT = _timed_out("body", "body_timeout_seconds")


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body deadlines and connection caps."""

    guard: ClassVar[ConnectionGuard]
    limits: ClassVar[Connections]

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._address: str | None = None
        self._admitted = False
        self._lingering = False
        self._request_bytes = 0
        self._body_started = 0.0
        self._body_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None

    # --- admission ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = get_remote_addr(transport)
        address = peer[0] if peer else None
        refused = self.guard.admit(address)
        if refused is not None:
            self._refuse(transport, address, refused)
            return
        self._admitted, self._address = True, address
        super().connection_made(transport)
        self._arm_header_timer()

    def _refuse(self, transport: asyncio.Transport, address: str | None, cap: str) -> None:
        self.transport = transport
        log.warning("refused a connection from %s: %s reached", address or "a local socket", cap)
        transport.write(REFUSED)
        linger = self.limits.refused_linger_seconds
        if linger > 0 and transport.can_write_eof() and self.guard.start_linger():
            # Half-close, then read and drop the request: closing with unread data would
            # send a reset, and the client could lose the answer.
            self._lingering = True
            transport.write_eof()
            self._linger_timer = self.loop.call_later(linger, transport.close)
        else:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._lingering:
            self._lingering = False
            self.guard.end_linger()
        if not self._admitted:
            return
        self._admitted = False
        self.guard.release(self._address)
        super().connection_lost(exc)

    # --- reading -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return  # a refused connection: dropped unread
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._header_timer is None:
                self._arm_header_timer()
            self._request_bytes += len(data)
        elif state is h11.SEND_BODY:
            self._body_bytes += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self._admitted:
            return
        state = self.conn.their_state
        if state is not h11.IDLE and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
            self._request_bytes = 0
            if state is h11.SEND_BODY:
                self._start_body_clock()
        if state is not h11.SEND_BODY:
            for name in ("_body_timer", "_linger_timer"):
                timer = getattr(self, name)
                if timer is not None:
                    timer.cancel()
                    setattr(self, name, None)

    def send_400_response(self, msg: str) -> None:
        if len(self.conn.trailing_data[0]) > self.limits.max_header_bytes:
            log.warning("closed a connection from %s: request headers over %d bytes",
                        self._address, self.limits.max_header_bytes)
            self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()
            return
        super().send_400_response(msg)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if (self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing()
                and self._linger_timer is None):
            # Answered before the body was read: drop the rest for a little while, then close.
            self._linger_timer = self.loop.call_later(
                self.limits.unread_body_linger_seconds, self.transport.close)

    # --- deadlines -----------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._request_bytes = 0
        self._header_timer = self.loop.call_later(self.limits.header_timeout_seconds,
                                                  self._headers_late)

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self._request_bytes:
            log.warning("closed a connection from %s: request headers not complete within "
                        "%g s", self._address, self.limits.header_timeout_seconds)
            self.transport.write(HEADER_TIMEOUT)
        self.transport.close()

    def _start_body_clock(self) -> None:
        self._body_started = self.loop.time()
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(self.limits.body_timeout_seconds,
                                                self._check_body)

    def _body_deadline(self) -> float:
        limits = self.limits
        return (self._body_started + limits.body_timeout_seconds
                + self._body_bytes / limits.body_min_bytes_per_second)

    def _check_body(self) -> None:
        self._body_timer = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:
            self._start_body_clock()  # the app is behind, not the client: start afresh
            return
        deadline = self._body_deadline()
        if self.loop.time() < deadline:
            self._body_timer = self.loop.call_at(deadline, self._check_body)
            return
        log.warning("closed a connection from %s: request body slower than %d bytes/s",
                    self._address, self.limits.body_min_bytes_per_second)
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(BODY_TIMEOUT)
        self.transport.close()

    def _cancel_timers(self) -> None:
        for name in ("_header_timer", "_body_timer", "_linger_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)


def bounded_protocol(guard: ConnectionGuard, limits: Connections) -> type[BoundedH11Protocol]:
    """A protocol class bound to ``guard`` and ``limits``, for ``uvicorn.Config(http=...)``."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"guard": guard, "limits": limits})
