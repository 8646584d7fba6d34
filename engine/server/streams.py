"""Waiting on a job without blocking the event loop: long polls and server-sent events.

The service's ``wait_for_job_change`` blocks a thread until the job changes (or a timeout),
so it runs in a worker thread, in slices of ``wait_slice_seconds``: a change that lands
between a read and the start of a wait is seen at the next slice at the latest.

The event stream of a job is::

    retry: <ms>

    id: <seq>
    event: interim
    data: <the message as RuntimeEncoder wrote it>

    event: log
    data: {"offset": <characters before this piece>, "text": "<what the program printed>"}

    ...
    event: final
    data: {"status": "DONE", "reason": null}

with a comment line (``: keep-alive``) whenever nothing was sent for
``stream_heartbeat_seconds``. ``id`` is the message's sequence number, so a client that
reconnects with ``Last-Event-ID: <seq>`` gets exactly the messages after it. ``log`` events
carry what the program prints as the executor stores it (every ``log_flush_seconds``, within
the sandbox's log cap), in pieces of at most ``max_log_event_chars``; they have no ``id``, and
a client that reconnects asks for the logs after the ``logs_after`` characters it has (their
``offset`` says where each piece starts). The stream ends
after the final event, when the job is deleted (``event: gone``), or when the daemon shuts
down (without a final event: the client reconnects later).

Every ``stream_recheck_seconds`` an open stream checks its token again and reads the job as
the token's user is now: a revoked token ends it with ``event: unauthorized``, a job the
user may no longer see with ``event: gone``. :class:`StreamSlots` caps the open streams per
user (429) and in all (503).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

import anyio
from anyio import to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from engine.errors import (
    AuthenticationError,
    InputValidationError,
    JobNotFound,
    QuotaExceeded,
    StoreUnavailable,
)
from engine.records import JobRecord
from engine.server.job_feeds import FeedHub, Final, Gone, Interim, Item, Logs
from engine.server.policy import ServerPolicy
from engine.server.problems import Problem, ProblemRaised
from engine.server.schemas import job_etag

KEEP_ALIVE = b": keep-alive\n\n"


def interim_event(seq: int, data: str) -> bytes:
    """One interim message as an event; its data always on one line."""
    if "\n" in data or "\r" in data:
        data = json.dumps(json.loads(data), separators=(",", ":"))
    return f"id: {seq}\nevent: interim\ndata: {data}\n\n".encode()


def log_events(offset: int, text: str, max_chars: int) -> list[bytes]:
    """``text`` (the logs from character ``offset`` on) as ``log`` events of at most
    ``max_chars`` characters each; JSON keeps each event's data on one line."""
    events = []
    for start in range(0, len(text), max_chars):
        payload = json.dumps({"offset": offset + start, "text": text[start:start + max_chars]})
        events.append(f"event: log\ndata: {payload}\n\n".encode())
    return events


def final_event(record: JobRecord) -> bytes:
    payload = json.dumps({"status": record.status.value, "reason": record.reason})
    return f"event: final\ndata: {payload}\n\n".encode()


def gone_event(job_id: str) -> bytes:
    payload = json.dumps({"detail": f"job {job_id!r} not found"})
    return f"event: gone\ndata: {payload}\n\n".encode()


def unauthorized_event() -> bytes:
    payload = json.dumps({"detail": "the bearer token is not valid any more (revoked)"})
    return f"event: unauthorized\ndata: {payload}\n\n".encode()


class TooManyStreams(QuotaExceeded):
    """A user holds as many open event streams as the policy allows."""

    def __init__(self, user: str, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"user {user!r} has {limit} event streams open (max_streams_per_user); "
                         "close one or retry later")


class StreamSlots:
    """Open event streams, per user and in all."""

    def __init__(self, policy: ServerPolicy) -> None:
        self.policy = policy
        self.by_user: Counter[str] = Counter()
        self.total = 0
        self._lock = threading.Lock()

    def acquire(self, user: str) -> None:
        """Count one more stream of ``user``; 429 or 503 when a cap is reached."""
        policy = self.policy
        retry = max(1, round(policy.stream_retry_ms / 1000))
        with self._lock:
            if self.by_user[user] >= policy.max_streams_per_user:
                raise TooManyStreams(user, policy.max_streams_per_user, retry)
            if self.total >= policy.max_streams_total:
                raise ProblemRaised(Problem(
                    503, "too-many-streams", "Too many event streams",
                    f"the server holds {policy.max_streams_total} event streams "
                    "(max_streams_total); retry later",
                    {"error": "RemoteError", "limit": "max_streams_total"},
                    {"Retry-After": str(retry)}))
            self.by_user[user] += 1
            self.total += 1

    def release(self, user: str) -> None:
        with self._lock:
            self.total -= 1
            self.by_user[user] -= 1
            if self.by_user[user] <= 0:
                del self.by_user[user]


class SlotStreamingResponse(StreamingResponse):
    """A streaming response that gives its stream slot back however the stream ends."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release: Callable[[], None] | None = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


async def job_record(service: Any, job_id: str) -> JobRecord:
    record: JobRecord = await to_thread.run_sync(service.job_record, job_id)
    return record


async def wait_for_change(service: Any, job_id: str, timeout: float) -> None:
    await to_thread.run_sync(service.wait_for_job_change, job_id, timeout)


async def wait_until_changed(service: Any, job_id: str, seen: str, wait: float,
                             policy: ServerPolicy, draining: threading.Event) -> JobRecord:
    """The job once its validator differs from ``seen``, or as it is after ``wait`` seconds."""
    record = await job_record(service, job_id)
    deadline = time.monotonic() + min(wait, policy.max_wait_seconds)
    while job_etag(record) == seen and not draining.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await wait_for_change(service, job_id, min(remaining, policy.wait_slice_seconds))
        record = await job_record(service, job_id)
    return record


async def job_events(service: Any, job_id: str, after: int, policy: ServerPolicy,
                     draining: threading.Event, hub: FeedHub,
                     recheck: Callable[[], Any] | None = None,
                     logs_after: int | None = 0,
                     recheck_key: Hashable | None = None) -> AsyncIterator[bytes]:
    """The event stream of one job, starting after message ``after`` and, unless
    ``logs_after`` is ``None``, after character ``logs_after`` of its logs; what is new is
    read once for all the streams on the job (``hub``'s feed of it).

    ``recheck`` (blocking) gives the service view of the stream's token as it is now, or
    raises :class:`AuthenticationError`; it is called every ``stream_recheck_seconds``, its
    answer shared by the streams of the same ``recheck_key`` (the token, or the session).
    """
    yield f"retry: {policy.stream_retry_ms}\n\n".encode()
    last_sent = last_check = time.monotonic()
    while True:  # joining reads the backlog, which may wait for a database restart
        feed = hub.feed(job_id)
        try:
            subscriber, backlog = await feed.join(service, after, logs_after)
            break
        except JobNotFound:
            yield gone_event(job_id)
            return
        except StoreUnavailable:
            if draining.is_set():
                return
            if time.monotonic() - last_sent >= policy.stream_heartbeat_seconds:
                yield KEEP_ALIVE
                last_sent = time.monotonic()
            await anyio.sleep(policy.wait_slice_seconds)
    try:
        items: list[Item] = []
        if backlog is not None:
            items = [Interim(seq, data) for seq, data in backlog.messages]
            if logs_after is not None and len(backlog.record.logs) > logs_after:
                items.append(Logs(logs_after, backlog.record.logs[logs_after:]))
            if backlog.record.is_final:
                items.append(Final(backlog.record))
        while True:
            for item in items:
                if isinstance(item, Interim) and item.seq > after:
                    yield interim_event(item.seq, item.data)
                    after = item.seq
                    last_sent = time.monotonic()
                elif isinstance(item, Logs) and logs_after is not None:
                    skip = max(0, logs_after - item.offset)
                    if skip < len(item.text):
                        for event in log_events(item.offset + skip, item.text[skip:],
                                                policy.max_log_event_chars):
                            yield event
                        logs_after = item.offset + len(item.text)
                        last_sent = time.monotonic()
                elif isinstance(item, Final):
                    yield final_event(item.record)
                    return
                elif isinstance(item, Gone):
                    yield gone_event(job_id)
                    return
            if recheck is not None and \
                    time.monotonic() - last_check >= policy.stream_recheck_seconds:
                try:
                    if recheck_key is None:
                        service = await to_thread.run_sync(recheck)
                    else:
                        service = await hub.checks.check(
                            recheck_key, last_check + policy.stream_recheck_seconds, recheck)
                except AuthenticationError:
                    yield unauthorized_event()
                    return
                except StoreUnavailable:
                    pass  # checked again once the store is back
                else:
                    last_check = time.monotonic()
                    if feed.record is not None and not service.may_see_job(feed.record):
                        yield gone_event(job_id)
                        return
            now = time.monotonic()
            if now - last_sent >= policy.stream_heartbeat_seconds:
                yield KEEP_ALIVE
                last_sent = now
            # Sleep until something is queued, the next heartbeat or the next re-check: the
            # feed wakes this stream, so hundreds of idle streams cost the loop nothing between.
            # A re-check still due (the store is away) is tried again a slice later.
            wake = policy.stream_heartbeat_seconds - (now - last_sent)
            if recheck is not None:
                wake = min(wake, policy.stream_recheck_seconds - (now - last_check))
            items = []
            with anyio.move_on_after(wake if wake > 0.01 else policy.wait_slice_seconds):
                try:
                    items.append(await subscriber.receive.receive())
                except anyio.EndOfStream:  # dropped for falling behind, or the daemon drains
                    return
            while True:
                try:
                    items.append(subscriber.receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            if not items and draining.is_set():
                return
    finally:
        feed.leave(subscriber)


def resume_point(last_event_id: int | None, header: str | None) -> int:
    """The message a stream starts after: the ``Last-Event-ID`` header a reconnecting
    ``EventSource`` sends, else the ``last_event_id`` query parameter, else 0."""
    if header is not None and header.strip():
        text = header.strip()
        if not text.isdigit() or len(text) > 18:
            raise InputValidationError(
                [("Last-Event-ID", "must be a message sequence number (a non-negative integer)")],
                what="headers",
            )
        return int(text)
    return last_event_id or 0


def open_job_stream(state: Any, service: Any, job_id: str, after: int,
                    recheck: Callable[[], Any],
                    logs_after: int | None = 0,
                    recheck_key: Hashable | None = None) -> SlotStreamingResponse:
    """The event stream of a job the caller may see, holding one of the user's stream slots
    (429 or 503 when none is free) until it ends; ``logs_after`` and ``recheck_key`` as for
    :func:`job_events`."""
    user = service.user
    state.stream_slots.acquire(user)
    return SlotStreamingResponse(
        job_events(service, job_id, after, state.policy, state.draining, state.job_feeds,
                   recheck, logs_after, recheck_key),
        lambda: state.stream_slots.release(user),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
