"""``RemoteRuntimeJob``: a daemon's job, waited for by long polls, its events streamed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import httpx

from engine.client.events import _Event, _sse_events
from engine.errors import JobNotFound, RemoteError, RuntimeJobTimeout
from engine.program import ResultDecoder
from engine.records import JobRecord, JobStatus
from engine.runtime_job import JobSource, RuntimeJob


class RemoteJobSource(JobSource, Protocol):
    """What a :class:`RemoteRuntimeJob` reads from its service (``RemoteRuntimeService``)."""

    url: str
    reconnect_seconds: float
    long_poll_seconds: float
    stream_drain_seconds: float

    def changed_job_record(self, job_id: str, timeout: float) -> JobRecord | None: ...

    def _event_stream(
        self, job_id: str, after: int, logs_after: int | None = None
    ) -> AbstractContextManager[httpx.Response]: ...


class RemoteRuntimeJob(RuntimeJob):
    """A :class:`RuntimeJob` of a daemon: interim results stream as server-sent events.

    A job from a listing carries no result and logs; it fetches them on first use.
    """

    def __init__(self, source: RemoteJobSource, record: JobRecord,
                 result_decoder: type[ResultDecoder] | None = None, *,
                 complete: bool = False) -> None:
        super().__init__(source, record, result_decoder)
        self._remote = source
        self._complete = complete and record.is_final
        self._response: httpx.Response | None = None

    def _refresh(self) -> JobRecord:
        if not self._complete:
            self._record = self._remote.job_record(self.job_id())
            self._complete = self._record.is_final
        return self._record

    def wait_for_final_state(self, timeout: float | None = None) -> JobStatus:
        """Block until the job is final; raise :class:`RuntimeJobTimeout` after ``timeout``.

        Each wait is one long poll that the daemon answers as soon as the job changes. When
        :meth:`stream_results` is running, it returns once the callback has had every interim
        message (the stream ends with the job), so nothing arrives after the result.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        record = self._refresh()
        while not record.status.is_final:
            wait = self._remote.long_poll_seconds
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise RuntimeJobTimeout(
                        f"job {self.job_id()} is still {record.status.value} after {timeout} s"
                    )
            changed = self._remote.changed_job_record(self.job_id(), wait)
            if changed is not None:
                record = self._record = changed
                self._complete = changed.is_final
        streaming = self._streaming
        if streaming is not None and streaming is not threading.current_thread():
            streaming.join(timeout=self._remote.stream_drain_seconds)
        return record.status

    def cancel_result_streaming(self) -> None:
        self._stop_streaming.set()
        response = self._response
        if response is not None:
            response.close()  # wakes the reader blocked on the socket
        super().cancel_result_streaming()

    def _stream(self, callback: Callable[[str, Any], None], decode: Callable[[Any], Any]) -> None:
        for data in self._interim_messages():
            callback(self.job_id(), decode(data))

    def _interim_messages(self) -> Iterator[str]:
        """Every interim message in order, once each, across reconnections."""
        after = 0

        def connect() -> AbstractContextManager[httpx.Response]:
            # Each connection asks for what comes after the position reached by then.
            return self._remote._event_stream(self.job_id(), after)

        for event in self._events(connect, self._stop_streaming, cancellable=True):
            if event.name != "interim" or event.id is None:
                continue
            seq = int(event.id)
            if seq <= after:
                continue  # delivered before a reconnection
            if seq > after + 1:  # never skip one, whatever the stream did
                for missed, data in self._remote.job_messages(self.job_id(), after):
                    if missed >= seq:
                        break
                    after = missed
                    yield data
            after = seq
            yield event.data

    def log_stream(self) -> Iterator[str]:
        """What the program prints, piece by piece as the daemon sends it (``event: log`` on
        the job's event stream), until the job has ended; resumed after a dropped
        connection from the last character received."""
        received = 0

        def connect() -> AbstractContextManager[httpx.Response]:
            return self._remote._event_stream(self.job_id(), self._record.message_count,
                                              logs_after=received)

        for event in self._events(connect, threading.Event()):
            if event.name != "log":
                continue
            piece = _log_piece(event.data)
            if piece is None:
                continue
            offset, text = piece
            if offset > received:  # never skip text, whatever the stream did
                missed = self._remote.job_record(self.job_id()).logs[received:offset]
                received += len(missed)
                if missed:
                    yield missed
            text = text[received - offset:]
            if text:
                received += len(text)
                yield text

    def _events(self, open_stream: Callable[[], AbstractContextManager[httpx.Response]],
                stop: threading.Event, *, cancellable: bool = False) -> Iterator[_Event]:
        """The events of the job's stream until its final event, reconnecting (after the
        daemon's retry delay) when the connection drops, for ``reconnect_seconds`` at most;
        ``open_stream`` is called for each connection. :class:`JobNotFound` if the job goes.
        A ``cancellable`` stream is the one :meth:`cancel_result_streaming` closes.
        """
        retry = 1.0
        last_contact = time.monotonic()
        while not stop.is_set():
            try:
                with open_stream() as response:
                    if cancellable:
                        self._response = response
                    last_contact = time.monotonic()
                    for event in _sse_events(response.iter_lines()):
                        last_contact = time.monotonic()
                        if stop.is_set():
                            return
                        if event.retry is not None:
                            retry = event.retry / 1000
                        if event.name == "final":
                            return
                        if event.name == "gone":
                            raise JobNotFound(f"job {self.job_id()!r} not found")
                        yield event
            except (httpx.TransportError, httpx.StreamError):
                pass  # dropped: reconnect after the server's retry delay
            except Exception:
                if not stop.is_set():
                    raise
                return  # the stream was closed under the reader by cancel_result_streaming
            finally:
                if cancellable:
                    self._response = None
            if stop.is_set():
                return
            if time.monotonic() - last_contact > self._remote.reconnect_seconds:
                raise RemoteError(
                    f"the event stream of job {self.job_id()} is lost: no answer from "
                    f"{self._remote.url} for {self._remote.reconnect_seconds:g} s"
                )
            stop.wait(retry)


def _log_piece(data: str) -> tuple[int, str] | None:
    """``(offset, text)`` of a ``log`` event's data, or ``None`` if it is not one."""
    try:
        piece = json.loads(data)
    except ValueError:
        return None
    if not isinstance(piece, dict):
        return None
    offset, text = piece.get("offset"), piece.get("text")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return None
    return (offset, text) if isinstance(text, str) else None
