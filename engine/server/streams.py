"""Waiting on a job without blocking the event loop: long polls and server-sent events.

The service's ``wait_for_job_change`` blocks a thread until the job changes (or a timeout),
so it runs in a worker thread, in slices of ``wait_slice_seconds``: a change that lands
between a read and the start of a wait is seen at the next slice at the latest.

The event stream of a job is::

    retry: <ms>

    id: <seq>
    event: interim
    data: <the message as RuntimeEncoder wrote it>

    ...
    event: final
    data: {"status": "DONE", "reason": null}

with a comment line (``: keep-alive``) whenever nothing was sent for
``stream_heartbeat_seconds``. ``id`` is the message's sequence number, so a client that
reconnects with ``Last-Event-ID: <seq>`` gets exactly the messages after it. The stream ends
after the final event, when the job is deleted (``event: gone``), or when the daemon shuts
down (without a final event: the client reconnects later).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread

from engine.errors import JobNotFound
from engine.records import JobRecord
from engine.server.policy import ServerPolicy
from engine.server.schemas import job_etag

KEEP_ALIVE = b": keep-alive\n\n"


def interim_event(seq: int, data: str) -> bytes:
    """One interim message as an event; its data always on one line."""
    if "\n" in data or "\r" in data:
        data = json.dumps(json.loads(data), separators=(",", ":"))
    return f"id: {seq}\nevent: interim\ndata: {data}\n\n".encode()


def final_event(record: JobRecord) -> bytes:
    payload = json.dumps({"status": record.status.value, "reason": record.reason})
    return f"event: final\ndata: {payload}\n\n".encode()


def gone_event(job_id: str) -> bytes:
    payload = json.dumps({"detail": f"job {job_id!r} not found"})
    return f"event: gone\ndata: {payload}\n\n".encode()


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
                     draining: threading.Event) -> AsyncIterator[bytes]:
    """The event stream of one job, starting after message ``after``."""
    yield f"retry: {policy.stream_retry_ms}\n\n".encode()
    last_sent = time.monotonic()
    while True:
        try:
            # The state is read before the messages: once it is final, every message is in.
            record = await job_record(service, job_id)
        except JobNotFound:
            yield gone_event(job_id)
            return
        messages = await to_thread.run_sync(service.job_messages, job_id, after)
        for seq, data in messages:
            yield interim_event(seq, data)
            after = seq
        if record.is_final:
            yield final_event(record)
            return
        now = time.monotonic()
        if messages:
            last_sent = now
            continue
        if draining.is_set():
            return
        if now - last_sent >= policy.stream_heartbeat_seconds:
            yield KEEP_ALIVE
            last_sent = now
        until_heartbeat = policy.stream_heartbeat_seconds - (now - last_sent)
        await wait_for_change(service, job_id,
                              max(0.01, min(policy.wait_slice_seconds, until_heartbeat)))
