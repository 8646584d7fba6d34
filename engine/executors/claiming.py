"""What every executor does around a job: claim it, watch it, store its messages, finish it.

:class:`ClaimingExecutor` holds the part both executors share. One dispatcher thread claims
jobs first in, first out (the store skips users at their running limit) while fewer than
``max_concurrent_jobs`` run, and starts a worker thread per job. Between claims it heartbeats
the jobs it holds and passes on cancel requests made by other processes sharing the store. A
worker stores each interim message as it arrives and the job's one final state at the end.

A subclass says only how one job runs: :meth:`ClaimingExecutor._execute` gets the job's
:class:`~engine.job_spec.JobSpec` (put back together from the store, see
:meth:`ClaimingExecutor.job_spec`) and returns the job's final fields (see
:func:`final_fields`); it may raise an engine error, which becomes the matching ``ERROR``
reason here.

While the store does not answer (a database restart) or refuses writes (a full disk), nothing
is lost: a running job's interim messages are held in order and written once it answers, and
its final state is written then too (the worker retries every ``poll_seconds``; a job still
unwritten when the engine stops is ended as ``engine_restarted`` by the next start).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from engine import job_log
from engine.errors import (
    EngineError,
    ProgramVersionGone,
    SandboxUnavailable,
    StorageFull,
    StoreUnavailable,
)
from engine.events import JobEvents
from engine.job_spec import JobSpec
from engine.process_identity import this_process
from engine.records import JobRecord, JobStatus, Reason
from engine.store import Database

log = logging.getLogger(__name__)

#: What a store that is away (or out of space) raises: retried, never a job's end.
STORE_AWAY = (StoreUnavailable, StorageFull)


class ClaimingExecutor:
    """Claims jobs from the store and runs each on a worker thread; see the module doc."""

    def __init__(
        self,
        database: Database,
        events: JobEvents,
        *,
        max_concurrent_jobs: int,
        max_running_per_user: int | None,
        poll_seconds: float,
        heartbeat_seconds: float,
        log_flush_seconds: float = 0.25,
        cancel_deadline_seconds: float = 30.0,
        worker_id: str | None = None,
    ) -> None:
        if max_concurrent_jobs < 1:
            raise ValueError(f"max_concurrent_jobs must be >= 1, got {max_concurrent_jobs}")
        self.database = database
        self.events = events
        self.max_concurrent_jobs = max_concurrent_jobs
        self.max_running_per_user = max_running_per_user
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.log_flush_seconds = log_flush_seconds
        self.cancel_deadline_seconds = cancel_deadline_seconds
        self.worker_id = worker_id or this_process()
        self._running: dict[str, threading.Event] = {}
        self._cancelled_at: dict[str, float] = {}  # when each running job was asked to stop
        self._shutdown_cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._last_heartbeat = 0.0
        self._interim: dict[str, _HeldMessages] = {}  # per running job: messages not stored yet
        self._store_away = False  # the dispatcher saw the store away (logged once)

    # --- the Executor interface --------------------------------------------------------------

    def start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="executor-dispatch", daemon=True
            )
            self._dispatcher.start()

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            event = self._running.get(job_id)
            if event is not None:
                self._cancelled_at.setdefault(job_id, time.monotonic())
        if event is not None:
            event.set()

    def shutdown(self, grace: float) -> None:
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        while self.running_jobs() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            held = list(self._running)
            self._shutdown_cancelled.update(held)
        for job_id in held:
            self.cancel(job_id)
        while self.running_jobs() and time.monotonic() < deadline + 30:
            time.sleep(0.05)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=5)

    def running_jobs(self) -> list[str]:
        with self._lock:
            return list(self._running)

    # --- what a subclass provides ------------------------------------------------------------

    def _can_claim(self) -> bool:
        """Whether queued jobs may be claimed now (a subclass says no while its sandboxes
        cannot run)."""
        return True

    def _execute(self, spec: JobSpec, cancel: threading.Event) -> dict[str, Any]:
        """Run ``spec`` to its end; return its final fields. ``cancel`` is set to stop it."""
        raise NotImplementedError

    # --- helpers for subclasses --------------------------------------------------------------

    def job_spec(self, job: JobRecord) -> JobSpec:
        """The spec of a claimed job, from its row and its program version's files;
        :class:`ProgramVersionGone` if that version was deleted meanwhile."""
        with self.database.read() as tx:
            version = tx.programs.get_version(job.program_id, job.program_version)
        if version is None or not version.files:
            raise ProgramVersionGone(
                f"version {job.program_version} of program {job.program_id} no longer exists"
            )
        return JobSpec.from_records(job, version)

    def log_sink(self, job_id: str) -> LogSink:
        """Where a running job's printed text goes: the store, at most every
        ``log_flush_seconds``, waking its watchers."""
        return LogSink(lambda text: self._store_logs(job_id, text), self.log_flush_seconds)

    def _store_logs(self, job_id: str, text: str) -> None:
        with self.database.write() as tx:
            tx.jobs.append_logs(job_id, text)
        self.events.notify(job_id)

    def store_interim(self, job_id: str, data: str) -> None:
        """Store one encoded interim message of a running job and wake its watchers; while
        the store is away it is held, in order, and stored with the next one that can be."""
        with self._lock:
            held = self._interim.setdefault(job_id, _HeldMessages())
        held.add(data)
        if self._store_held(job_id):
            self.events.notify(job_id)

    def _store_held(self, job_id: str) -> bool:
        """Write a job's held interim messages; ``False`` while the store is away."""
        with self._lock:
            held = self._interim.get(job_id)
        if held is None:
            return True
        try:
            held.write(lambda batch: self._append(job_id, batch))
        except STORE_AWAY as exc:
            log.warning("job %s: %d interim message(s) held until the store answers (%s)",
                        job_id, len(held), type(exc).__name__)
            return False
        except Exception:  # refused for good: dropped, never retried for ever
            log.exception("job %s: %d interim message(s) could not be stored", job_id,
                          held.clear())
        return True

    def _append(self, job_id: str, batch: list[str]) -> None:
        with self.database.write() as tx:
            tx.jobs.append_messages(job_id, batch)

    # --- the dispatcher ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            try:
                self._watch_running()
                if self._can_claim():
                    self._claim_while_free()
                if self._store_away:
                    log.warning("the store answers again")
                    self._store_away = False
            except STORE_AWAY as exc:  # a database restart: wait for it, quietly
                if not self._store_away:
                    log.warning("the store is away (%s); retrying every %g s", exc,
                                self.poll_seconds)
                    self._store_away = True
            except Exception:  # a passing database error must not stop the loop
                log.exception("executor dispatch failed; retrying")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _claim_while_free(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if len(self._running) >= self.max_concurrent_jobs:
                    return
            with self.database.write() as tx:
                job = tx.jobs.claim_next(
                    self.worker_id, max_running_per_user=self.max_running_per_user
                )
            if job is None:
                return
            cancel = threading.Event()
            with self._lock:
                self._running[job.id] = cancel
            self.events.notify(job.id)
            job_log.running(job)
            threading.Thread(
                target=self._work, args=(job, cancel), name=f"job-{job.id}", daemon=True
            ).start()

    def _watch_running(self) -> None:
        """Pass on cancel requests made elsewhere; heartbeat the jobs held here; end a job
        whose worker has not honoured its cancel within ``cancel_deadline_seconds``."""
        self._end_overdue_cancels()
        running = self.running_jobs()
        if not running:
            return
        now = time.monotonic()
        beat = now - self._last_heartbeat >= self.heartbeat_seconds
        if beat:
            self._last_heartbeat = now
            with self.database.write() as tx:
                flags = {job_id: tx.jobs.heartbeat(job_id) for job_id in running}
        else:
            with self.database.read() as tx:
                flags = {}
                for job_id in running:
                    record = tx.jobs.get(job_id)
                    flags[job_id] = record is None or record.cancel_requested
        for job_id, cancel_requested in flags.items():
            if cancel_requested:
                self.cancel(job_id)

    def _end_overdue_cancels(self) -> None:
        """A cancelled job ends within a bounded time, whatever its worker thread is doing:
        past the deadline its slot is freed and it is stored ``CANCELLED`` (the worker's own
        final state, if it ever comes, is then refused by the store)."""
        now = time.monotonic()
        with self._lock:
            overdue = [job_id for job_id, at in self._cancelled_at.items()
                       if now - at > self.cancel_deadline_seconds]
            for job_id in overdue:
                self._running.pop(job_id, None)
                self._cancelled_at.pop(job_id, None)
        for job_id in overdue:
            log.error("job %s did not stop within %.0f s of its cancel; ending it", job_id,
                      self.cancel_deadline_seconds)
            shutdown = job_id in self._shutdown_cancelled
            final = {"status": JobStatus.CANCELLED,
                     "reason": Reason.ENGINE_SHUTDOWN if shutdown else Reason.USER,
                     "error_type": "CancelDeadline",
                     "error_message": f"the job did not stop within "
                                      f"{self.cancel_deadline_seconds:g} s of its cancel and "
                                      f"was ended by the engine"}
            self._finish(job_id, final)

    # --- one job -----------------------------------------------------------------------------

    def _work(self, job: JobRecord, cancel: threading.Event) -> None:
        try:
            final = self._execute(self.job_spec(job), cancel)
        except SandboxUnavailable as exc:
            final = error_fields(Reason.SANDBOX_UNAVAILABLE, exc)
        except ProgramVersionGone as exc:
            final = error_fields(Reason.PROGRAM_DELETED, exc)
        except EngineError as exc:
            final = error_fields(Reason.ENGINE_ERROR, exc)
        except Exception as exc:  # whatever happens, the job gets a final state
            log.exception("job %s failed inside the engine", job.id)
            final = error_fields(Reason.ENGINE_ERROR, exc)
        with self._lock:
            self._cancelled_at.pop(job.id, None)
            if job.id in self._shutdown_cancelled:
                self._shutdown_cancelled.discard(job.id)
                final.update(status=JobStatus.CANCELLED, reason=Reason.ENGINE_SHUTDOWN)
        try:
            self._finish(job.id, final)
        finally:  # only now: shutdown waits for running jobs, and so for this write
            with self._lock:
                self._running.pop(job.id, None)
            self._wake.set()

    def _finish(self, job_id: str, final: dict[str, Any]) -> None:
        """Store a job's held interim messages and its final state, retrying while the store
        is away (until the engine stops); if storing fails otherwise (a value the store
        refuses), store a plain ``ERROR``/``engine_error`` instead, so no job stays
        ``RUNNING``."""
        try:
            while not (self._store_held(job_id) and self._store_final(job_id, final)):
                if self._stopping.wait(self.poll_seconds):
                    log.error("job %s: the store is away and the engine stops; the next "
                              "start ends the job", job_id)
                    return
            with self._lock:
                self._interim.pop(job_id, None)
        finally:
            self.events.notify(job_id)
            self._wake.set()

    def _store_final(self, job_id: str, final: dict[str, Any]) -> bool:
        """Store the final state and log it; ``False`` while the store is away."""
        ended: JobRecord | None = None
        try:
            try:
                with self.database.write() as tx:
                    if tx.jobs.finish(job_id, **final):
                        ended = tx.jobs.get(job_id)
            except STORE_AWAY:
                raise
            except Exception as exc:
                log.exception("job %s: its final state could not be stored", job_id)
                fallback = error_fields(Reason.ENGINE_ERROR, exc)
                fallback["error_message"] = (
                    f"the job's outcome could not be stored ({type(exc).__name__}); "
                    f"see the engine's log")
                with self.database.write() as tx:
                    if tx.jobs.finish(job_id, **fallback):
                        ended = tx.jobs.get(job_id)
        except STORE_AWAY as exc:
            log.warning("job %s: its final state waits for the store (%s)", job_id,
                        type(exc).__name__)
            return False
        if ended is not None:
            job_log.ended(ended)
        return True


def final_fields(outcome: dict[str, Any], node: str) -> dict[str, Any]:
    """The arguments of ``JobRepository.finish`` for an ``Outcome`` (as ``outcome_dict``)."""
    error = outcome.get("error") or {}
    return {
        "status": JobStatus(outcome["status"]),
        "reason": Reason(outcome["reason"]) if outcome.get("reason") else None,
        "result": outcome.get("result_data"),
        "error_type": error.get("type"),
        "error_message": error.get("message"),
        "error_traceback": error.get("traceback"),
        "logs": outcome.get("logs", ""),
        "metrics": {**(outcome.get("metrics") or {}), "node": node},
    }


def outcome_dict(outcome: Any) -> dict[str, Any]:
    """An ``Outcome`` as plain data (strings, numbers, dicts): what crosses to the store."""
    error = outcome.error
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "result_data": outcome.result_data,
        "error": None if error is None else {
            "type": error.type, "message": error.message, "traceback": error.traceback
        },
        "logs": outcome.logs,
        "metrics": dict(outcome.metrics),
    }


def error_fields(reason: Reason, exc: BaseException, node: str | None = None) -> dict[str, Any]:
    """Final fields of a job the engine could not run to its end."""
    return {
        "status": JobStatus.ERROR,
        "reason": reason,
        "error_type": type(exc).__name__,
        "error_message": str(exc),
        "metrics": {"node": node or socket.gethostname()},
    }


class _HeldMessages:
    """A running job's interim messages not stored yet, in order; one writer at a time."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._lock = threading.Lock()  # guards _pending
        self._writing = threading.Lock()  # one write at a time keeps the order

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, data: str) -> None:
        with self._lock:
            self._pending.append(data)

    def clear(self) -> int:
        """Drop every held message; return how many there were."""
        with self._lock:
            count, self._pending = len(self._pending), []
        return count

    def write(self, append: Callable[[list[str]], None]) -> None:
        """Pass every held message to ``append`` in order; drop them once it returned."""
        with self._writing:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return
            append(batch)
            with self._lock:
                del self._pending[:len(batch)]


class LogSink:
    """Collects a job's printed text and passes it on in batches, at most every
    ``interval`` seconds (a program printing a line at a time must not cost a write per
    line), and at the latest ``interval`` seconds after it was printed (a timer passes on
    what a program printed before going quiet); :meth:`flush` passes on the rest."""

    def __init__(self, write: Callable[[str], None], interval: float) -> None:
        self._write = write
        self._interval = interval
        self._pending: list[str] = []
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)
            wait = self._interval - (time.monotonic() - self._last)
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        with self._writing:  # pieces are written in the order they were printed
            with self._lock:
                text, self._pending = "".join(self._pending), []
                self._last = time.monotonic()
                timer, self._timer = self._timer, None
            if timer is not None and timer is not threading.current_thread():
                timer.cancel()
            if text:
                try:
                    self._write(text)
                except Exception:  # a passing store error costs live logs, not the job
                    log.warning("could not store a job's logs as they came", exc_info=True)
