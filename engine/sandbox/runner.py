"""The sandbox runner: the only engine code that runs inside the container.

Started as ``python -m engine.sandbox.runner``. Before any user code loads it takes private
copies of stdin and stdout for the protocol and points the program's fd 0 at ``/dev/null`` and
its fd 1 at fd 2 (the log channel), so ``print()``, ``sys.stdout`` or ``os.write(1, ...)`` can
never forge a protocol message. It then says ``ready``, waits for ``start``, imports the
program, calls ``main(backend, user_messenger, **inputs)`` and sends exactly one final
message (``result`` or ``error``) before it leaves with ``os._exit``.

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


if __name__ == "__main__":  # pragma: no cover - exercised inside the container
    _PROTO_IN, _PROTO_OUT = _take_protocol_fds()

import base64
import importlib
import io
import itertools
import json
import threading
import traceback
import uuid
from typing import Any

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
    BackendDescription,
    BackendResultMessage,
    BackendRunMessage,
    CancelMessage,
    ErrorMessage,
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

    def read_start(self) -> StartMessage:
        message = parse_host_message(self._in.readline())
        if not isinstance(message, StartMessage):
            raise RuntimeError(f"expected a start message, got {message.type!r}")
        return message

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


def run(channel: Channel) -> None:
    """Say ready, take ``start``, run ``main`` and send its one final message."""
    if PROGRAM_DIR not in sys.path:
        sys.path.append(PROGRAM_DIR)  # after the standard library: a program cannot shadow it
    channel.send(ReadyMessage())
    start = channel.read_start()
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


if __name__ == "__main__":  # pragma: no cover - exercised inside the container
    _channel = Channel(_PROTO_IN, _PROTO_OUT)
    try:
        run(_channel)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
