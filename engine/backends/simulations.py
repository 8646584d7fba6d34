"""One job's simulations on the host side: its worker process, its queue and its budgets.

A job's ``backend.run`` calls run one at a time in a worker process of the job's own,
started from the fork server on the first call (see :mod:`engine.backends.worker`) with the
policy's memory limit and the CPU seconds the job has left. The engine process only moves
bytes: it never decodes a circuit and never holds the GIL for a simulation.

Per job, from ``per_job`` in the policy: calls queued or running (``max_calls_in_flight``),
CPU seconds of all its workers together (``max_cpu_seconds``, also the worker's RLIMIT_CPU),
and wall time per call (``max_seconds_per_call``: past it the worker is killed and the next
call starts a new one). A host-wide semaphore (``workers``) bounds simulations at once across
jobs. :meth:`JobSimulations.close` kills the worker, and with it every simulation of the job.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future
from multiprocessing import connection as mp_connection
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

import psutil

from engine.backends.admission import CallPlan
from engine.backends.policy import BackendPolicy
from engine.errors import BackendError, BackendRejected

_POLL_SECONDS = 0.1
_MAX_HEADER_BYTES = 64 * 1024  # a worker's JSON replies other than a result's text
_context_lock = threading.Lock()
_context: Any = None
_fork_server_starting = False


def worker_context() -> Any:
    """The fork-server context, preloading the worker module (Qiskit and Aer) once."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["engine.backends.worker"])
            _context = context
        return _context


def start_fork_server() -> None:
    """Start the fork server in the background, once per process, so that a job's first
    ``backend.run`` does not wait for it to import Qiskit and Aer (about a second here).

    Called when a job starts: the import then overlaps the container's start-up. A failure
    here is not reported; the first worker start tries again and says what went wrong."""
    global _fork_server_starting
    with _context_lock:
        if _fork_server_starting:
            return
        _fork_server_starting = True

    def start() -> None:
        with contextlib.suppress(Exception):
            worker_context()
            forkserver.ensure_running()

    threading.Thread(target=start, name="fork-server-start", daemon=True).start()


class _WorkerPopen(popen_forkserver.Popen):
    """Starts a worker from the fork server without running the engine's ``__main__`` in it.

    The worker needs only importable modules; an embedding script without a main guard would
    otherwise run again in every worker. The body is the standard library's ``_launch`` with
    the main module left out of the preparation data."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buffer = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buffer)
            reduction.dump(process_obj, buffer)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buffer.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _WorkerPopen:
        return _WorkerPopen(process_obj)


class JobEnded(BackendRejected):
    """A call could not run because its job ended."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "job_ended")


class JobSimulations:
    """The worker, queue and budgets of one job's ``backend.run`` calls."""

    def __init__(self, policy: BackendPolicy, slots: threading.Semaphore | None = None) -> None:
        self.policy = policy
        self.limits = policy.per_job
        self._slots = slots or threading.Semaphore(policy.workers)
        self._cond = threading.Condition(threading.RLock())
        self._queue: deque[tuple[CallPlan, Future[str]]] = deque()
        self._running = 0
        self._direct: tuple[CallPlan, Future[str]] | None = None  # sent by submit itself
        self._waker: socket.socket | None = None  # wakes the dispatcher's idle wait
        self._wakee: socket.socket | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._connection: Any = None
        self._ps: psutil.Process | None = None
        self._stage: Any = None  # the worker's stage, a byte it writes in shared memory
        self._cpu_done = 0.0  # CPU seconds of workers that have ended
        self._cpu_current = 0.0  # the live worker's CPU seconds at the last sample
        self.workers_started = 0

    # --- the job's side ---------------------------------------------------------------------

    def submit(self, plan: CallPlan) -> Future[str]:
        """Queue one admitted call; refuse it at once if the job's bounds are reached.

        When the job's worker is idle the call is sent to it from this thread, and the
        dispatcher, already waiting on the worker's pipe, takes the reply: one thread wake-up
        fewer per call."""
        future: Future[str] = Future()
        with self._cond:
            if self._closed:
                raise JobEnded("the job has ended; no more backend calls run for it")
            in_flight = len(self._queue) + self._running
            if in_flight >= self.limits.max_calls_in_flight:
                raise BackendRejected(
                    f"{in_flight} calls of this job are already queued or running "
                    f"(per_job.max_calls_in_flight = {self.limits.max_calls_in_flight})",
                    "per_job.max_calls_in_flight",
                )
            self._check_cpu()
            connection = self._connection
            direct = (
                self._thread is not None and not self._running and not self._queue
                and connection is not None and self._slots.acquire(blocking=False)
            )
            if direct:
                future.set_running_or_notify_cancel()
                self._running = 1
                self._direct = (plan, future)
            else:
                self._queue.append((plan, future))
            if self._thread is None:
                self._wakee, self._waker = socket.socketpair()
                self._waker.setblocking(False)
                self._thread = threading.Thread(target=self._dispatch, daemon=True,
                                                name="job-simulations")
                self._thread.start()
            if not direct:
                self._wake()
        if direct:
            # A failed send shows up to the dispatcher as the worker's end of the pipe.
            with contextlib.suppress(OSError, ValueError):
                connection.send_bytes(json.dumps(plan.request()).encode("utf-8"))
        return future

    def close(self) -> None:
        """End the job's simulations at once: kill its worker, fail its queued calls.

        Idempotent, and safe from any thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
            direct, self._direct = self._direct, None  # sent, but not yet taken up
            self._wake()
        self._kill()
        if direct is not None:
            self._slots.release()
            direct[1].set_exception(JobEnded("the job ended while this backend call ran"))
        for _plan, future in queued:
            if future.set_running_or_notify_cancel():
                future.set_exception(JobEnded("the job ended before this backend call ran"))

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def worker_pid(self) -> int | None:
        """The live worker's process id, if one is running."""
        with self._cond:
            process = self._process
            return process.pid if process is not None and process.exitcode is None else None

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the job's workers have used so far (sampled while calls run)."""
        return self._cpu_done + self._cpu_current

    # --- the worker ---------------------------------------------------------------------

    def start_worker(self) -> None:
        """Start the job's worker if none is alive, and wait for it to say it is ready."""
        with self._cond:
            if self._process is not None and self._process.exitcode is None:
                return
            self._reap()
        remaining = self.limits.max_cpu_seconds - self.cpu_seconds
        context = worker_context()
        ours, theirs = context.Pipe(duplex=True)
        config = {
            "policy": self.policy.model_dump(mode="json"),
            "memory_bytes": int(self.policy.worker.max_memory_bytes),
            "cpu_seconds": max(1, math.ceil(remaining)),
            "max_reply_bytes": int(self.policy.worker.max_reply_bytes),
        }
        from engine.backends import worker  # Qiskit and Aer: imported when first needed

        stage = context.RawValue("b", worker.DECODING)
        process = _WorkerProcess(target=worker.serve, args=(theirs, config, stage), daemon=True,
                                 name="simulation-worker")
        with self._cond:
            if self._closed:
                raise JobEnded("the job has ended; no worker is started for it")
            process.start()
            self._process, self._connection, self._stage = process, ours, stage
        theirs.close()
        self.workers_started += 1
        try:
            ready = self._receive(ours, time.monotonic() + self.policy.worker.start_timeout_seconds)
        except (EOFError, OSError, ValueError):
            self._kill()
            raise BackendError("the simulation worker ended as it started") from None
        except TimeoutError:
            self._kill()
            raise BackendError(
                f"the simulation worker did not start within worker.start_timeout_seconds "
                f"({self.policy.worker.start_timeout_seconds:g} s)"
            ) from None
        if ready.get("ready") != process.pid:
            self._kill()
            raise BackendError("the simulation worker did not start as expected")
        try:  # the PID the fork server reported, not the worker's word
            self._ps = psutil.Process(process.pid)
        except psutil.Error:
            self._ps = None

    def _dispatch(self) -> None:
        """Run the job's calls one at a time until the job ends."""
        try:
            while True:
                with self._cond:
                    if self._closed:
                        return
                    direct, self._direct = self._direct, None
                    call = direct or (self._queue.popleft() if self._queue else None)
                    if call is not None:
                        self._running = 1
                    connection = self._connection
                if call is None:
                    self._idle(connection)
                    continue
                plan, future = call
                try:
                    if direct is not None:
                        self._finish(future, self._sent, plan)
                    elif future.set_running_or_notify_cancel():
                        self._finish(future, self._call, plan)
                finally:
                    with self._cond:
                        self._running = 0
        finally:
            with self._cond:
                for end in (self._wakee, self._waker):
                    if end is not None:
                        end.close()

    @staticmethod
    def _finish(future: Future[str], run: Any, plan: CallPlan) -> None:
        try:
            future.set_result(run(plan))
        except BaseException as exc:
            future.set_exception(exc)

    def _idle(self, connection: Any) -> None:
        """Wait for a queued call, a call sent by ``submit``'s thread, or the job's end."""
        wakee = self._wakee
        ready = mp_connection.wait([wakee] + ([connection] if connection else []))
        if wakee in ready:
            with contextlib.suppress(OSError):
                wakee.recv(4096)
        if connection in ready:
            with self._cond:
                expected = self._direct is not None
            if not expected:  # an idle worker that speaks has ended, or broken the protocol
                self._kill()

    def _wake(self) -> None:
        """Wake the dispatcher (called with the lock held)."""
        if self._waker is not None:
            with contextlib.suppress(OSError):  # full (it is awake anyway) or closed
                self._waker.send(b"w")

    def _call(self, plan: CallPlan) -> str:
        """One queued call in the worker, within the host-wide slots and the job's bounds."""
        while not self._slots.acquire(timeout=_POLL_SECONDS):
            if self._closed:
                raise JobEnded("the job ended before this backend call ran")
        try:
            with self._cond:
                self._check_cpu()
            self.start_worker()
            with self._cond:
                connection = self._connection
            if connection is None:
                raise JobEnded("the job ended while this backend call started")
            try:
                connection.send_bytes(json.dumps(plan.request()).encode("utf-8"))
            except (OSError, ValueError) as exc:
                if self._closed:
                    raise JobEnded("the job ended while this backend call ran") from None
                raise self._worker_failed(exc) from None
            return self._reply(connection)
        finally:
            self._slots.release()

    def _sent(self, plan: CallPlan) -> str:
        """The reply to a call that ``submit`` sent to the idle worker itself."""
        try:
            with self._cond:
                connection = self._connection
            if connection is None:
                raise JobEnded("the job ended while this backend call ran")
            return self._reply(connection)
        finally:
            self._slots.release()

    def _reply(self, connection: Any) -> str:
        """The worker's answer to the call it is running, within the per-call time limit."""
        deadline = time.monotonic() + self.limits.max_seconds_per_call
        try:
            try:
                reply = self._receive(connection, deadline)
            except TimeoutError:
                self._kill()
                raise BackendRejected(
                    f"the call ran longer than per_job.max_seconds_per_call "
                    f"({self.limits.max_seconds_per_call:g} s); its worker was stopped",
                    "per_job.max_seconds_per_call",
                ) from None
            self._sample_cpu()
            if isinstance(reply.get("result_bytes"), int):
                data = connection.recv_bytes(int(self.policy.worker.max_reply_bytes))
                return data.decode("utf-8")
            if isinstance(reply.get("rejected"), str):
                limit = reply.get("limit")
                raise BackendRejected(reply["rejected"][:2000],
                                      limit if isinstance(limit, str) else None)
            raise BackendError(
                f"{str(reply.get('error'))[:100]}: {str(reply.get('message'))[:2000]}"
            )
        except (EOFError, OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            if self._closed:
                raise JobEnded("the job ended while this backend call ran") from None
            raise self._worker_failed(exc) from None

    def _receive(self, connection: Any, deadline: float) -> dict[str, Any]:
        """The worker's next JSON message; ``TimeoutError`` past ``deadline``."""
        while not connection.poll(max(0.0, min(_POLL_SECONDS, deadline - time.monotonic()))):
            self._sample_cpu()
            if self._closed:
                raise EOFError("the job ended")
            if time.monotonic() >= deadline:
                raise TimeoutError
        message = json.loads(connection.recv_bytes(_MAX_HEADER_BYTES).decode("utf-8"))
        if not isinstance(message, dict):
            raise ValueError("a worker message is not a JSON object")
        return message

    def _worker_failed(self, exc: BaseException) -> BackendError:
        """Name the limit that most likely ended a worker that stopped answering."""
        ended = isinstance(exc, (EOFError, BrokenPipeError, ConnectionResetError))
        from engine.backends.worker import SIMULATING

        admitted = self._stage is not None and self._stage.value == SIMULATING
        code = self._kill()
        if not ended:  # it broke the protocol, or sent more than a reply may hold
            if isinstance(exc, OSError):
                return BackendRejected(
                    f"the simulation worker's reply exceeds worker.max_reply_bytes "
                    f"({int(self.policy.worker.max_reply_bytes)} bytes)",
                    "worker.max_reply_bytes",
                )
            return BackendError(f"the simulation worker answered out of protocol: "
                                f"{type(exc).__name__}: {str(exc)[:200]}")
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and (
            self.cpu_seconds >= self.limits.max_cpu_seconds - 1.5
        ):
            self._cpu_done = max(self._cpu_done, float(self.limits.max_cpu_seconds))
            return BackendRejected(
                f"the job's simulations used per_job.max_cpu_seconds "
                f"({self.limits.max_cpu_seconds} s of CPU); its worker was stopped",
                "per_job.max_cpu_seconds",
            )
        if not admitted:
            return BackendRejected(
                f"the simulation worker ended while decoding the circuits (exit code {code}), "
                f"most likely at its decoding budget worker.max_decode_bytes "
                f"({int(self.policy.worker.max_decode_bytes)} bytes)",
                "worker.max_decode_bytes",
            )
        return BackendRejected(
            f"the simulation worker ended while simulating (exit code {code}), most likely "
            f"at its memory limit worker.max_memory_bytes "
            f"({int(self.policy.worker.max_memory_bytes)} bytes)",
            "worker.max_memory_bytes",
        )

    def _check_cpu(self) -> None:
        if self.cpu_seconds >= self.limits.max_cpu_seconds:
            raise BackendRejected(
                f"the job's simulations used per_job.max_cpu_seconds "
                f"({self.limits.max_cpu_seconds} s of CPU)",
                "per_job.max_cpu_seconds",
            )

    def _sample_cpu(self) -> None:
        ps = self._ps
        if ps is None:
            return
        try:
            times = ps.cpu_times()
        except psutil.Error:
            return
        self._cpu_current = max(self._cpu_current, times.user + times.system)

    def _kill(self) -> int | None:
        """Kill the live worker (SIGKILL), wait for it to be gone, and forget it; return its
        exit code."""
        with self._cond:
            process = self._process
            if process is None:
                return None
            self._sample_cpu()
            if process.exitcode is None:
                with contextlib.suppress(OSError):
                    process.kill()
            process.join(timeout=2)
            code = process.exitcode
            self._reap()
            return code

    def _reap(self) -> None:
        """Forget an ended worker, keeping its CPU seconds in the job's account."""
        with self._cond:
            process, connection = self._process, self._connection
            if process is None or process.exitcode is None:
                return
            self._cpu_done += self._cpu_current
            self._cpu_current = 0.0
            self._process = self._connection = self._ps = None
        if connection is not None:
            connection.close()
        process.close()
