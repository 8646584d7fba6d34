"""The sandbox runner: the only engine code that runs inside the container.

Started as ``python -m engine.sandbox.runner``. Before any user code loads it takes private
copies of stdin and stdout for the protocol and points the program's fd 0 at ``/dev/null`` and
its fd 1 at fd 2 (the log channel), so ``print()``, ``sys.stdout`` or ``os.write(1, ...)`` can
never forge a protocol message.

It is a fork server (:class:`ForkServer`): it imports Qiskit and the program API once, makes
itself non-dumpable, says ``ready`` and waits for ``start``. For each job it forks a child
while single-threaded; the child reseeds ``random`` and NumPy's global generator from the OS,
imports the program, calls ``main(backend, user_messenger, **inputs)`` and sends exactly one
final message (``result`` or ``error``) before it leaves with ``os._exit``. The child talks
through pipes that the parent relays; when it has ended, the parent kills every other process
of the container but init, empties ``/tmp``, ``/dev/shm`` and ``/dev/mqueue``, removes System V
IPC objects, checks that it holds no descriptor of the job's, and sends ``job_end``.

It imports only the standard library, ``engine.program``, ``engine.serialization``,
``engine.protocol`` and ``engine.errors`` (plus Qiskit, which programs need anyway).
"""

from __future__ import annotations

import os
import sys


def _take_protocol_fds() -> tuple[int, int]:
    """Move the protocol off fds 0 and 1 before anything else can write to them."""
    proto_in = os.dup(0)
    proto_out = os.dup(1)  # os.dup makes non-inheritable fds: child processes don't get them
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return proto_in, proto_out


# OpenBLAS starts its worker threads when NumPy is imported; the fork server must stay
# single-threaded, so it imports with one, and each job's process gets the usual number back.
_BLAS_THREADS = "OPENBLAS_NUM_THREADS"

if __name__ == "__main__":  # pragma: no cover - exercised inside the container
    _PROTO_IN, _PROTO_OUT = _take_protocol_fds()
    os.environ[_BLAS_THREADS] = "1"

import base64
import contextlib
import ctypes
import importlib
import io
import itertools
import json
import random
import select
import shutil
import signal
import stat
import threading
import time
import traceback
import uuid
from typing import Any, NoReturn

import numpy
from qiskit import QuantumCircuit, qpy
from qiskit.circuit import (
    BreakLoopOp,
    ContinueLoopOp,
    ForLoopOp,
    IfElseOp,
    SwitchCaseOp,
    WhileLoopOp,
)
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import JobStatus, JobV1, Options
from qiskit.result import Result
from qiskit.transpiler import Target

from engine.errors import BackendError, BackendRejected, EncodeError
from engine.program import ProgramBackend, UserMessenger
from engine.protocol import (
    SERVER_MARK,
    BackendDescription,
    BackendResultMessage,
    BackendRunMessage,
    CancelMessage,
    ErrorMessage,
    JobEndMessage,
    PublishMessage,
    ReadyMessage,
    ResultMessage,
    SandboxLimits,
    StartMessage,
    parse_host_message,
)
from engine.serialization import RuntimeDecoder, RuntimeEncoder, measure_payload

_CONTROL_FLOW = {
    "if_else": IfElseOp,
    "while_loop": WhileLoopOp,
    "for_loop": ForLoopOp,
    "switch_case": SwitchCaseOp,
    "break_loop": BreakLoopOp,
    "continue_loop": ContinueLoopOp,
}


class Channel:
    """The runner's end of the protocol: framed writes, and a reader for host replies."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self._in = os.fdopen(fd_in, "rb", buffering=1 << 16)
        self._fd_out = fd_out
        self._write_lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._pending_lock = threading.Lock()

    def send(self, message: Any) -> None:
        data = memoryview(message.to_line())
        with self._write_lock:
            while data:
                written = os.write(self._fd_out, data)
                data = data[written:]

    def request(self, message: BackendRunMessage) -> _Pending:
        pending = _Pending()
        with self._pending_lock:
            self._pending[message.request_id] = pending
        self.send(message)
        return pending

    def serve_replies(self) -> None:
        """Deliver ``backend_result`` replies; leave at once on ``cancel`` or end of input."""
        for line in self._in:
            message = parse_host_message(line)
            if isinstance(message, CancelMessage):
                os._exit(130)
            if isinstance(message, BackendResultMessage):
                with self._pending_lock:
                    pending = self._pending.pop(message.request_id, None)
                if pending is not None:
                    pending.set(message)
        os._exit(130)  # the host closed the channel: nobody is listening any more


class _Pending:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.reply: BackendResultMessage | None = None

    def set(self, reply: BackendResultMessage) -> None:
        self.reply = reply
        self._event.set()

    def wait(self, timeout: float | None) -> BackendResultMessage:
        if not self._event.wait(timeout):
            raise TimeoutError(f"no answer from the backend within {timeout} s")
        assert self.reply is not None
        return self.reply


def build_target(description: BackendDescription) -> Target:
    """A ``Target`` with the host backend's operations, so transpiling inside works."""
    standard = get_standard_gate_name_mapping()
    target = Target(num_qubits=description.num_qubits)
    for name, qargs in description.operations.items():
        if name in standard:
            operation = standard[name]
        elif name in _CONTROL_FLOW:
            target.add_instruction(_CONTROL_FLOW[name], name=name)
            continue
        else:
            continue  # simulator-only instructions the transpiler never targets
        if operation.num_qubits and qargs is not None:
            properties = {
                tuple(q): None for q in qargs if len(q) == operation.num_qubits
            }
            target.add_instruction(operation, properties or None)
        else:
            target.add_instruction(operation)
    return target


class SandboxJob(JobV1):
    """A ``backend.run`` in flight on the host; ``result()`` waits for its answer."""

    def __init__(self, backend: SandboxBackend, job_id: str, pending: _Pending,
                 timeout: float | None) -> None:
        super().__init__(backend, job_id)
        self._pending = pending
        self._timeout = timeout

    def submit(self) -> None:  # pragma: no cover - submitted on creation
        raise NotImplementedError("a sandbox job is submitted when it is created")

    def result(self, timeout: float | None = None) -> Result:
        reply = self._pending.wait(timeout if timeout is not None else self._timeout)
        if reply.error is not None:
            if reply.error.type == "BackendRejected":
                raise BackendRejected(reply.error.message, limit=reply.error.limit)
            raise BackendError(f"{reply.error.type}: {reply.error.message}")
        return json.loads(reply.result or "null", cls=RuntimeDecoder)

    def status(self) -> JobStatus:
        return JobStatus.DONE if self._pending._event.is_set() else JobStatus.RUNNING


class SandboxBackend(ProgramBackend):
    """The ``backend`` a sandboxed program gets: the host backend's target, runs relayed."""

    def __init__(self, description: BackendDescription, channel: Channel) -> None:
        super().__init__(name=description.name)
        self._description = description
        self._target = build_target(description)
        self._channel = channel
        self._ids = itertools.count(1)

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> int | None:
        return self._description.max_circuits

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, seed_simulator=None, memory=False)

    def run(self, circuits: Any, timeout: float | None = None, **run_config: Any) -> SandboxJob:
        if isinstance(circuits, QuantumCircuit):
            circuits = [circuits]
        payloads = []
        for circuit in circuits:
            buffer = io.BytesIO()
            qpy.dump(circuit, buffer)
            payloads.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
        options = {k: v for k, v in self.options.__dict__.items() if v is not None}
        options.update(run_config)
        request_id = f"r{next(self._ids)}"
        pending = self._channel.request(
            BackendRunMessage(
                request_id=request_id,
                circuits=payloads,
                options=json.loads(json.dumps(options, cls=RuntimeEncoder)),
            )
        )
        return SandboxJob(self, f"{request_id}-{uuid.uuid4().hex[:8]}", pending, timeout)


class SandboxMessenger(UserMessenger):
    """Publishes over the protocol, after checking the size before encoding."""

    def __init__(self, channel: Channel, limits: SandboxLimits) -> None:
        self._channel = channel
        self._limits = limits

    def publish(self, message: Any, encoder: type[json.JSONEncoder] = RuntimeEncoder,
                final: bool = False) -> None:
        data = _encode(message, encoder, self._limits.max_message_bytes, "published message")
        self._channel.send(PublishMessage(data=data, final=final))


def _encode(value: Any, encoder: type[json.JSONEncoder], limit: int, what: str) -> str:
    try:
        measure_payload(value, limit)
    except EncodeError as exc:
        raise EncodeError(f"{what} refused: {exc}") from None
    data = json.dumps(value, cls=encoder)
    if len(data) > limit:
        raise EncodeError(f"{what} is too large: {len(data)} bytes encoded, limit {limit}")
    return data


# What a program may return or publish, for the error that says it returned something else.
RETURNABLE = (
    "a result must be encodable with RuntimeEncoder: None, bool, int, float, complex, str, "
    "bytes, lists, tuples, sets and dicts with str keys of these, numpy arrays and scalars, "
    "datetimes, Qiskit circuits, instructions, parameters and Results, Aer noise models, or "
    "an object with a to_json() method"
)


def _program_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` from the program's own first frame: the runner's frames (and
    importlib's, when the entry module failed to import) are not the program's business."""
    tb = exc.__traceback__
    while tb is not None and _is_runner_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _is_runner_frame(filename: str) -> bool:
    return filename == __file__ or filename.startswith("<frozen importlib")


def _error_message(exc: BaseException, limits: SandboxLimits) -> ErrorMessage:
    text = _program_traceback(exc)
    cap = limits.max_traceback_chars
    return ErrorMessage(
        error_type=type(exc).__name__[:200],
        message=str(exc)[:cap],
        traceback=text[-cap:],
        limit=getattr(exc, "limit", None) if isinstance(exc, BackendRejected) else None,
    )


PROGRAM_DIR = "/program"

# Where a job can leave files behind: emptied after every job.
SCRATCH_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")
# How long the server tries to end the processes a job left behind.
KILL_SECONDS = 5.0
# How long the server waits for the last bytes of a job's output once its processes are gone.
DRAIN_SECONDS = 2.0
_PR_SET_DUMPABLE = 4
_IPC_RMID = 0
_CHUNK = 1 << 16


def run(channel: Channel, start: StartMessage) -> None:
    """Run ``main`` for ``start`` and send its one final message."""
    limits = start.limits
    threading.Thread(target=channel.serve_replies, name="replies", daemon=True).start()
    try:
        inputs = json.loads(start.inputs, cls=RuntimeDecoder)
        program = importlib.import_module(start.entry)
        backend = SandboxBackend(start.backend, channel)
        value = program.main(backend, SandboxMessenger(channel, limits), **inputs)
    except BaseException as exc:
        channel.send(_error_message(exc, limits))
        return
    try:
        data = _encode(value, RuntimeEncoder, limits.max_message_bytes, "result")
    except BaseException as exc:
        error = _error_message(exc, limits)
        message = f"main() returned a value that cannot be sent back: {exc}; {RETURNABLE}"
        channel.send(error.model_copy(update={"error_type": "ResultNotSerializable",
                                              "message": message[:limits.max_traceback_chars]}))
        return
    channel.send(ResultMessage(data=data))


class ForkServer:
    """Runs one job after another, each in a child forked from this already-imported process.

    Single-threaded by design: one ``select`` loop relays the host's lines to the job and the
    job's lines to the host, and a ``SIGCHLD`` wake-up says when the job's process ended.
    """

    def __init__(self, proto_in: int, proto_out: int) -> None:
        self._in = proto_in
        self._out = proto_out
        self._host_bytes = bytearray()  # from the host, not yet split into lines
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, _wake_up)
        signal.set_wakeup_fd(self._wake_w)
        self._libc = ctypes.CDLL(None, use_errno=True)

    def serve(self) -> None:
        """Say ready; then run each ``start`` until the host closes the channel."""
        self._libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # no ptrace, no /proc/PID/mem of us
        self._fds = _open_fds()
        self._write(ReadyMessage().to_line())
        while (start := self._next_start()) is not None:
            end = self._run_job(start)
            self._write(SERVER_MARK + end.to_line())

    # --- one job -------------------------------------------------------------------------------

    def _run_job(self, start: StartMessage) -> JobEndMessage:
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            return JobEndMessage(cpu_seconds=0, max_rss_bytes=0, clean=False,
                                 problem=f"the fork server has {threads} threads; it forks "
                                         f"only while single-threaded")
        job_in_r, job_in_w = os.pipe()
        job_out_r, job_out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(start, job_in_r, job_out_w,
                   (self._in, self._out, self._wake_r, self._wake_w, job_in_w, job_out_r))
        os.close(job_in_r)
        os.close(job_out_w)
        os.set_blocking(job_in_w, False)
        relay = _OutputRelay(job_out_r, self._write)
        status, usage = self._relay(pid, relay, job_in_w)
        problems = [_kill_others()]
        relay.drain(DRAIN_SECONDS)  # every writer of the pipe is gone (or we stop waiting)
        relay.close()
        os.close(job_in_w)
        problems += [_empty_dir(path) for path in SCRATCH_DIRS]
        problems.append(self._remove_ipc())
        if _open_fds() != self._fds:
            problems.append("the fork server holds descriptors it did not hold before the job")
        if relay.violation:
            problems.append("the job wrote a line starting with the fork server's mark")
        found = [problem for problem in problems if problem]
        return JobEndMessage(
            exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            cpu_seconds=round(usage.ru_utime + usage.ru_stime, 6),
            max_rss_bytes=usage.ru_maxrss * 1024,
            clean=not found,
            problem="; ".join(found)[:2000] or None,
            violation=relay.violation,
        )

    def _relay(self, pid: int, relay: _OutputRelay, job_in: int) -> tuple[int, Any]:
        """Relay until the job's process has ended; return its wait status and rusage."""
        to_job = bytearray()
        while True:
            readers = [self._wake_r]
            if relay.open:
                readers.append(relay.fd)
            if not to_job:  # a job that does not read its input stops us reading the host
                readers.append(self._in)
            writers = [job_in] if to_job else []
            readable, writable, _ = select.select(readers, writers, [], 1.0)
            if relay.fd in readable and relay.read() and relay.violation:
                _kill(pid)
            if self._in in readable:
                if not self._read_host():
                    _kill(pid)  # the host is gone: so are we, after the job
                    _kill_others()
                    os._exit(0)
                while (line := self._take_line()) is not None:
                    to_job += line + b"\n"
            if writable:
                try:
                    del to_job[:os.write(job_in, to_job)]
                except BlockingIOError:
                    pass
                except OSError:  # the job closed its input, or is gone
                    to_job.clear()
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass
            waited, status, usage = os.wait4(pid, os.WNOHANG)
            if waited == pid:
                return status, usage

    # --- the host's side -----------------------------------------------------------------------

    def _next_start(self) -> StartMessage | None:
        """The next ``start``; replies and cancels for an ended job are dropped. ``None``
        when the host closed the channel."""
        while True:
            line = self._take_line()
            if line is None:
                if not self._read_host():
                    return None
                continue
            try:
                message = parse_host_message(line)
            except Exception:
                continue  # the host's, for a job that has ended; nothing here can act on it
            if isinstance(message, StartMessage):
                return message

    def _read_host(self) -> bool:
        chunk = os.read(self._in, _CHUNK)
        self._host_bytes += chunk
        return bool(chunk)

    def _take_line(self) -> bytes | None:
        end = self._host_bytes.find(b"\n")
        if end < 0:
            return None
        line = bytes(self._host_bytes[:end])
        del self._host_bytes[:end + 1]
        return line

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._out, view):]

    def _remove_ipc(self) -> str | None:
        """Remove the System V shared memory, queues and semaphores a job made."""
        left = 0
        removers = {
            "shm": lambda ident: self._libc.shmctl(ident, _IPC_RMID, None),
            "msg": lambda ident: self._libc.msgctl(ident, _IPC_RMID, None),
            "sem": lambda ident: self._libc.semctl(ident, 0, _IPC_RMID),
        }
        for kind, remove in removers.items():
            try:
                with open(f"/proc/sysvipc/{kind}") as handle:
                    rows = handle.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                if len(fields) > 1 and fields[1].isdigit() and remove(int(fields[1])) != 0:
                    left += 1
        return f"{left} System V IPC objects outlived the job" if left else None


class _OutputRelay:
    """Copies a job's protocol lines to the host, refusing any line that starts with the
    server's mark; a last line left unfinished is cut off with the mark."""

    def __init__(self, fd: int, write: Any) -> None:
        self.fd = fd
        self._write = write
        self.open = True
        self.violation = False
        self._at_line_start = True

    def read(self) -> bool:
        """Relay one chunk; False at end of the stream."""
        chunk = os.read(self.fd, _CHUNK)
        if not chunk:
            self.open = False
            return False
        if self.violation:
            return True
        if (self._at_line_start and chunk.startswith(SERVER_MARK)) or (
            b"\n" + SERVER_MARK in chunk
        ):
            self.violation = True
            return True
        self._at_line_start = chunk.endswith(b"\n")
        self._write(chunk)
        return True

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.open and (remaining := deadline - time.monotonic()) > 0:
            if select.select([self.fd], [], [], remaining)[0]:
                self.read()

    def close(self) -> None:
        if not self._at_line_start:
            self._write(SERVER_MARK + b"\n")
        os.close(self.fd)


def _child(start: StartMessage, fd_in: int, fd_out: int,
           server_fds: tuple[int, ...]) -> NoReturn:  # pragma: no cover - the child
    """The job's process: forget the server's descriptors and state, then run the job."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)  # the job's own, as before
        # The kernel's OOM killer takes the job (and what it starts) before the server.
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
        _restore_blas_threads()
        random.seed(os.urandom(32))
        numpy.random.seed(numpy.frombuffer(os.urandom(32), dtype=numpy.uint32))
        run(Channel(fd_in, fd_out), start)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _restore_blas_threads() -> None:  # pragma: no cover - the child
    """Give the job as many OpenBLAS threads as OpenBLAS takes by itself (one per CPU it may
    run on), as if the server had not imported NumPy with one."""
    os.environ.pop(_BLAS_THREADS, None)
    with open("/proc/self/maps") as handle:
        libraries = {line.split()[-1] for line in handle if "openblas" in line}
    for path in sorted(libraries):
        with contextlib.suppress(OSError):
            library = ctypes.CDLL(path)
            for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                         "scipy_openblas_set_num_threads", "openblas_set_num_threads"):
                if hasattr(library, name):
                    getattr(library, name)(len(os.sched_getaffinity(0)))
                    break


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _kill_others() -> str | None:
    """SIGKILL every process but init and this one until none is left (init reaps them)."""
    me = os.getpid()
    deadline = time.monotonic() + KILL_SECONDS
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        others = [pid for pid in _pids() if pid not in (1, me)]
        if not others:
            return None
        if time.monotonic() > deadline:
            return f"{len(others)} processes outlived the job"
        time.sleep(0.002)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _empty_dir(path: str) -> str | None:
    """Remove everything under ``path`` (directories the job made unwritable included)."""
    try:
        names = os.listdir(path)
    except OSError:
        return None  # not there, or not ours: the job could not write to it either
    for name in names:
        full = os.path.join(path, name)
        try:
            mode = os.lstat(full).st_mode
            if stat.S_ISDIR(mode):
                _make_writable(full)
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.unlink(full)
        except OSError:
            pass
    left = os.listdir(path)
    return f"{path} still holds {len(left)} entries after the job" if left else None


def _make_writable(path: str) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) - {"0", "1", "2"}


def _wake_up(signum: int, frame: Any) -> None:
    """SIGCHLD's handler: the wake-up descriptor does the work."""


if __name__ == "__main__":  # pragma: no cover - exercised inside the container
    if PROGRAM_DIR not in sys.path:
        sys.path.append(PROGRAM_DIR)  # after the standard library: a program cannot shadow it
    try:
        ForkServer(_PROTO_IN, _PROTO_OUT).serve()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
