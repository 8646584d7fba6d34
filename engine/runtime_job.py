"""``RuntimeJob``: a handle on one job, the same for the embedded and the remote service.

A job reads its state through a :class:`JobSource` (the embedded service reads the store;
the remote client reads the HTTP API), so its methods, waiting rules and exceptions are
written once.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from engine.errors import (
    RuntimeJobCancelled,
    RuntimeJobFailure,
    RuntimeJobRanTooLong,
    RuntimeJobTimeout,
)
from engine.program.result_decoder import ResultDecoder
from engine.records import JobRecord, JobStatus, Reason

_POLL_SECONDS = 0.5


class JobSource(Protocol):
    """What a :class:`RuntimeJob` needs from a service."""

    def job_record(self, job_id: str) -> JobRecord: ...

    def job_messages(self, job_id: str, after_seq: int) -> list[tuple[int, str]]: ...

    def cancel_job(self, job_id: str) -> None: ...

    def wait_for_job_change(self, job_id: str, timeout: float) -> None: ...


class RuntimeJob:
    """A job: its status, interim results, result, logs and metrics."""

    def __init__(
        self,
        source: JobSource,
        record: JobRecord,
        result_decoder: type[ResultDecoder] | None = None,
    ) -> None:
        self._source = source
        self._record = record
        self._result_decoder = result_decoder or ResultDecoder
        self._streaming: threading.Thread | None = None
        self._stop_streaming = threading.Event()

    # --- identity and state --------------------------------------------------------------

    def job_id(self) -> str:
        return self._record.id

    @property
    def program_id(self) -> str:
        return self._record.program_id

    @property
    def creation_date(self) -> datetime:
        return self._record.created_at

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs the job was run with, decoded."""
        from engine.serialization import RuntimeDecoder

        return json.loads(self._record.inputs, cls=RuntimeDecoder)

    def backend(self) -> str:
        """The name of the backend the job runs on."""
        return self._record.backend

    @property
    def reason(self) -> str | None:
        """Why the job ended as it did (``None`` while running and for DONE)."""
        return self._refresh().reason

    def status(self) -> JobStatus:
        """QUEUED, RUNNING, DONE, ERROR or CANCELLED."""
        return self._refresh().status

    def to_dict(self, include: Iterable[str] = ()) -> dict[str, Any]:
        """The job as the one JSON document every door shows
        (:class:`~engine.documents.JobDocument`), read as one consistent snapshot; ``include``
        adds ``result``, ``logs`` and ``interim_results``."""
        from engine.documents import JobDocument

        include = frozenset(include)
        while True:
            record = self._refresh()
            interim = None
            if "interim_results" in include:
                interim = [data for _seq, data in self._source.job_messages(self.job_id(), 0)]
            if self._refresh().status is record.status:  # it did not end while being read
                return JobDocument.of(self._record, include, interim).to_json()

    def done(self) -> bool:
        """Whether the job ended ``DONE``."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Whether the job is ``RUNNING`` now."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Whether the job ended ``CANCELLED``."""
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether the job has ended (``DONE``, ``ERROR`` or ``CANCELLED``)."""
        return self.status().is_final

    def error_message(self) -> str | None:
        """The error of a failed or cancelled job, with the program's traceback if any."""
        record = self._refresh()
        if record.status is JobStatus.DONE or not record.status.is_final:
            return None
        if record.error_type is None and record.error_message is None:
            return f"{record.status.value} ({record.reason})" if record.reason else None
        parts = [f"{record.error_type or record.status.value}: {record.error_message or ''}"]
        if record.error_traceback:
            parts.append(record.error_traceback)
        return "\n".join(parts)

    def logs(self) -> str:
        """What the program printed, capped by the sandbox."""
        return self._refresh().logs

    def metrics(self) -> dict[str, Any]:
        """Wall and CPU seconds, peak memory, backend calls, shots, and where it ran."""
        return dict(self._refresh().metrics)

    # --- waiting and results -------------------------------------------------------------

    def wait_for_final_state(self, timeout: float | None = None) -> JobStatus:
        """Block until the job is final; raise :class:`RuntimeJobTimeout` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        record = self._refresh()
        while not record.status.is_final:
            remaining = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeJobTimeout(
                    f"job {self.job_id()} is still {record.status.value} after {timeout} s"
                )
            self._source.wait_for_job_change(self.job_id(), min(remaining, _POLL_SECONDS))
            record = self._refresh()
        return record.status

    def result(
        self, timeout: float | None = None, decoder: type[ResultDecoder] | None = None
    ) -> Any:
        """The program's return value, decoded; waits for the job to end, and for a
        :meth:`stream_results` callback to have seen every interim result.

        Raises :class:`RuntimeJobFailure` (with ``reason`` and the program's error) for ERROR,
        :class:`RuntimeJobCancelled` for CANCELLED, :class:`RuntimeJobTimeout` on timeout.
        """
        self.wait_for_final_state(timeout)
        if self._streaming is not None and self._streaming is not threading.current_thread():
            self._streaming.join(timeout=10)  # every interim result reaches the callback first
        record = self._record
        if record.status is JobStatus.ERROR:
            raise RuntimeJobFailure(
                f"job {record.id} failed ({record.reason}): {self.error_message()}",
                reason=record.reason,
                error={"type": record.error_type, "message": record.error_message,
                       "traceback": record.error_traceback},
            )
        if record.status is JobStatus.CANCELLED:
            cancelled = (RuntimeJobRanTooLong if record.reason == Reason.RAN_TOO_LONG
                         else RuntimeJobCancelled)
            raise cancelled(
                f"job {record.id} was cancelled ({record.reason})", reason=record.reason
            )
        if record.result is None:
            return None
        return (decoder or self._result_decoder).decode(record.result)

    def interim_results(self, decoder: type[ResultDecoder] | None = None) -> list[Any]:
        """Every interim result stored so far, in order, decoded."""
        decode = (decoder or self._result_decoder).decode
        return [decode(data) for _, data in self._source.job_messages(self.job_id(), 0)]

    def stream_results(
        self,
        callback: Callable[[str, Any], None],
        decoder: type[ResultDecoder] | None = None,
    ) -> None:
        """Call ``callback(job_id, message)`` for every interim result, in order, from a
        background thread, until the job ends or :meth:`cancel_result_streaming`."""
        if self._streaming is not None and self._streaming.is_alive():
            raise RuntimeError(f"job {self.job_id()} is already streaming its results")
        self._stop_streaming.clear()
        decode = (decoder or self._result_decoder).decode
        self._streaming = threading.Thread(
            target=self._stream, args=(callback, decode), name=f"stream-{self.job_id()}",
            daemon=True,
        )
        self._streaming.start()

    def cancel_result_streaming(self) -> None:
        """Stop the stream started by :meth:`stream_results`."""
        self._stop_streaming.set()
        if self._streaming is not None and self._streaming is not threading.current_thread():
            self._streaming.join(timeout=5)

    def _stream(self, callback: Callable[[str, Any], None], decode: Callable[[Any], Any]) -> None:
        after = 0
        while not self._stop_streaming.is_set():
            final = self._refresh().status.is_final  # read before the messages: none missed
            messages = self._source.job_messages(self.job_id(), after)
            for seq, data in messages:
                if self._stop_streaming.is_set():
                    return
                after = seq
                callback(self.job_id(), decode(data))
            if final and not messages:
                return
            if not messages:
                self._source.wait_for_job_change(self.job_id(), _POLL_SECONDS)

    def log_stream(self) -> Iterator[str]:
        """What the program prints, piece by piece as it is printed (within the sandbox's
        log cap), until the job has ended and all of it is out."""
        written = 0
        while True:
            record = self._refresh()
            if len(record.logs) > written:
                yield record.logs[written:]
                written = len(record.logs)
            if record.is_final:
                return
            self._source.wait_for_job_change(self.job_id(), _POLL_SECONDS)

    def cancel(self) -> None:
        """Cancel the job: a queued job ends at once, a running one's sandbox is stopped."""
        self._source.cancel_job(self.job_id())

    # --- presentation --------------------------------------------------------------------

    def _refresh(self) -> JobRecord:
        if not self._record.is_final:
            self._record = self._source.job_record(self.job_id())
        return self._record

    def __repr__(self) -> str:
        return f"<RuntimeJob {self.job_id()} {self._record.program_id} {self._record.status}>"

    def _repr_html_(self) -> str:
        record = self._record
        rows = [
            ("Job id", record.id),
            ("Program", record.program_id),
            ("Status", record.status.value),
            ("Reason", record.reason or ""),
            ("Backend", record.backend),
            ("Created", record.created_at.isoformat()),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table>{cells}</table>"
