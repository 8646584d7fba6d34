"""One reader per followed job, fanning what is new out to every event stream on it.

Without it every open stream reads the job and its new messages itself after each change:
with N streams on one job, one published message costs ~2N store reads. A :class:`JobFeed`
reads once per change (the state, the messages after the highest seq it has, the logs after
its offset) and hands the same items to each subscriber's bounded queue.

A stream that joins reads its own backlog once (its ``Last-Event-ID`` and ``logs_after``
onwards, through its own service view, so a job out of its sight is ``gone`` as before), then
follows the shared items, skipping what its backlog already had. Joins and the reader's
reads take turns (one lock), so a joiner's backlog always reaches at least where the feed's
next read starts: nothing is missed between the two. A subscriber whose queue is full
(``stream_queue_events``) is dropped: its stream ends after what it holds, without a final
event, and the client reconnects with its ``Last-Event-ID`` like after a daemon restart. The
reader stops when its last subscriber leaves, when the job ends or is deleted, and when
the daemon drains.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio import to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from engine.errors import JobNotFound, StoreUnavailable
from engine.records import JobRecord
from engine.server.policy import ServerPolicy
from engine.server.stream_checks import SharedChecks


@dataclass(frozen=True)
class Interim:
    seq: int
    data: str


@dataclass(frozen=True)
class Logs:
    offset: int
    text: str


@dataclass(frozen=True)
class Final:
    record: JobRecord


@dataclass(frozen=True)
class Gone:
    """The job was deleted."""


Item = Interim | Logs | Final | Gone


@dataclass
class Subscriber:
    """One stream's end of a feed: its queue, and whether it was dropped for falling behind."""

    send: ObjectSendStream[Item]
    receive: ObjectReceiveStream[Item]
    dropped: bool = False

    def offer(self, items: list[Item]) -> None:
        if self.dropped:
            return
        try:
            for item in items:
                self.send.send_nowait(item)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.dropped = True
            self.send.close()


@dataclass
class Backlog:
    """What a joining stream reads for itself: the job as its user sees it and its messages."""

    record: JobRecord
    messages: list[tuple[int, str]]


@dataclass
class JobFeed:
    """The shared reader of one job, in one event loop."""

    job_id: str
    hub: FeedHub
    subscribers: list[Subscriber] = field(default_factory=list)
    record: JobRecord | None = None  # as of the last read (the reader's or a joiner's)
    seq: int = -1  # highest message seq read for the subscribers; -1: not started
    logs: int = 0
    task: asyncio.Task[None] | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    ended: bool = False

    async def join(self, service: Any, after: int, logs_after: int | None
                   ) -> tuple[Subscriber, Backlog | None]:
        """Subscribe, then read the backlog after ``after`` (and ``logs_after``) unless the
        feed is already there; raises :class:`JobNotFound` or :class:`StoreUnavailable` from
        that read (the subscriber is left again)."""
        send, receive = anyio.create_memory_object_stream[Item](self.hub.policy.stream_queue_events)
        subscriber = Subscriber(send, receive)
        self.subscribers.append(subscriber)
        try:
            async with self.lock:
                backlog = None
                caught_up = self.seq >= 0 and after >= self.seq and (
                    logs_after is None or logs_after >= self.logs)
                if not caught_up or self.record is None:
                    record = await to_thread.run_sync(service.job_record, self.job_id)
                    messages = await to_thread.run_sync(service.job_messages, self.job_id,
                                                        after)
                    self.hub.reads += 1
                    backlog = Backlog(record, messages)
                    if self.seq < 0:  # the first subscriber: the reader starts from here
                        self.seq = record.message_count  # not ``after``: a client's claim
                        self.logs = len(record.logs)
                        self.record = record
                if self.task is None and not self.ended:
                    self.task = asyncio.get_running_loop().create_task(self._follow())
        except BaseException:
            self.leave(subscriber)
            raise
        return subscriber, backlog

    def leave(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)
        subscriber.send.close()
        subscriber.receive.close()
        if not self.subscribers:
            self._end()

    def _end(self) -> None:
        self.ended = True
        self.hub.forget(self)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    def _offer(self, items: list[Item]) -> None:
        for subscriber in list(self.subscribers):
            subscriber.offer(items)

    async def _follow(self) -> None:
        policy = self.hub.policy
        service = self.hub.reader_service()
        fresh = False
        try:
            while self.subscribers and not self.hub.draining.is_set():
                if not fresh:
                    await to_thread.run_sync(service.wait_for_job_change, self.job_id,
                                             policy.wait_slice_seconds)
                async with self.lock:
                    try:
                        items = await self._read(service)
                    except JobNotFound:
                        self._offer([Gone()])
                        return
                    except StoreUnavailable:  # a database restart: wait for it
                        fresh = False
                        continue
                    self._offer(items)
                if items and isinstance(items[-1], Final):
                    return
                fresh = bool(items)  # something came: look again at once, as streams did
        finally:
            if not self.ended:
                self._end()
            for subscriber in self.subscribers:
                subscriber.send.close()

    async def _read(self, service: Any) -> list[Item]:
        # The state is read before the messages: once it is final, every message is in.
        record = await to_thread.run_sync(service.job_record, self.job_id)
        messages = []
        if record.message_count > self.seq:
            messages = await to_thread.run_sync(service.job_messages, self.job_id, self.seq)
        self.hub.reads += 1
        self.record = record
        items: list[Item] = [Interim(seq, data) for seq, data in messages]
        if messages:
            self.seq = messages[-1][0]
        if len(record.logs) > self.logs:
            items.append(Logs(self.logs, record.logs[self.logs:]))
            self.logs = len(record.logs)
        if record.is_final:
            items.append(Final(record))
        return items


class FeedHub:
    """The feeds of one app, by event loop and job id; ``reads`` counts the store reads of
    jobs' new messages made for event streams (``program_engine_event_stream_reads_total``)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.policy: ServerPolicy = state.policy
        self.draining: threading.Event = state.draining
        self.feeds: dict[tuple[int, str], JobFeed] = {}
        self.reads = 0
        self.checks = SharedChecks(2 * self.policy.stream_recheck_seconds)

    def feed(self, job_id: str) -> JobFeed:
        key = (id(asyncio.get_running_loop()), job_id)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = JobFeed(job_id, self)
        return feed

    def forget(self, feed: JobFeed) -> None:
        for key, value in list(self.feeds.items()):
            if value is feed:
                del self.feeds[key]

    def reader_service(self) -> Any:
        """A view that sees every job: the reader serves streams of different users, each
        of whom was checked when joining and is re-checked by its own stream."""
        base = self.state.service
        return base.as_user(base.user, is_admin=True)
