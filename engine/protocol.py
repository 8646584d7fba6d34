"""The JSON-over-stdio protocol between the host and the sandbox runner.

One JSON object per line (JSON Lines), UTF-8, on the container's stdin (host -> sandbox) and
stdout (sandbox -> host). Every object carries ``v`` (the protocol version) and ``type``.

host -> sandbox:
    ``start``           entry module, encoded inputs, backend description, limits
    ``backend_result``  the answer to one ``backend_run``: an encoded ``Result`` or an error
    ``cancel``          stop now
sandbox -> host:
    ``ready``           the runner is up and waits for ``start``
    ``backend_run``     circuits (one QPY file each, base64), run options, a request id
    ``publish``         an encoded interim message (``final`` marks a published final result)
    ``result``          the encoded return value of ``main``
    ``error``           the exception that ended ``main``: type, message, traceback
    ``job_end``         (the fork server's, after :data:`SERVER_MARK`) the job's process has
                        ended and the container is clean again, or says why not

The runner is a fork server: one process per job, forked from a parent that imported Qiskit
once. Only the parent writes the container's stdout; it relays each job's lines and refuses
any line of the job that starts with :data:`SERVER_MARK`, so a line that does is the parent's
own. A line that ends with the mark is a job's unfinished last line, cut off by the parent.

Everything the sandbox sends is hostile: :class:`MessageReader` bounds line length, message
count and total bytes, and :func:`parse_sandbox_message` accepts only the models below. This
module is pure (pydantic and the standard library) because the runner imports it too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from engine.errors import ProtocolViolation

PROTOCOL_VERSION = 1

#: The first byte of the fork server's own lines (ASCII record separator); no line a job
#: writes may start with it, and JSON never does.
SERVER_MARK = b"\x1e"

# Field bounds that hold whatever the policy says; the policy's own limits (line size,
# message count, total bytes) are enforced by MessageReader.
_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
_NAME = Annotated[str, Field(min_length=1, max_length=200)]
_TEXT = Annotated[str, Field(max_length=64_000)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = PROTOCOL_VERSION

    def to_line(self) -> bytes:
        """The message as one framed line."""
        return self.model_dump_json().encode("utf-8") + b"\n"


# --- host -> sandbox -----------------------------------------------------------------------


class BackendDescription(BaseModel):
    """Enough of a host backend for ``transpile(circuit, backend)`` to work in the sandbox.

    ``operations`` maps each operation name to the qubit tuples it acts on, or ``None`` when
    it acts on any qubits (an ideal simulator).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _NAME
    num_qubits: int = Field(ge=1, le=10_000)
    operations: dict[str, list[list[int]] | None]
    coupling_map: list[list[int]] | None = None
    max_circuits: int | None = None


class SandboxLimits(BaseModel):
    """Limits the runner applies before it sends anything (the host enforces them again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_message_bytes: int = Field(gt=0)
    max_traceback_chars: int = Field(gt=0)


class StartMessage(_Message):
    type: Literal["start"] = "start"
    job_id: _ID
    entry: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    inputs: str  # RuntimeEncoder JSON of the keyword arguments
    backend: BackendDescription
    limits: SandboxLimits


class BackendFailure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: _NAME
    message: _TEXT
    limit: str | None = None


class BackendResultMessage(_Message):
    type: Literal["backend_result"] = "backend_result"
    request_id: _ID
    result: str | None = None  # RuntimeEncoder JSON of Result.to_dict()
    error: BackendFailure | None = None


class CancelMessage(_Message):
    type: Literal["cancel"] = "cancel"


HostMessage = Annotated[
    StartMessage | BackendResultMessage | CancelMessage, Field(discriminator="type")
]


# --- sandbox -> host -----------------------------------------------------------------------


class ReadyMessage(_Message):
    type: Literal["ready"] = "ready"


class BackendRunMessage(_Message):
    type: Literal["backend_run"] = "backend_run"
    request_id: _ID
    circuits: Annotated[list[str], Field(max_length=10_000)]  # base64 QPY, one circuit each
    options: dict[str, Any] = Field(default_factory=dict)


class PublishMessage(_Message):
    type: Literal["publish"] = "publish"
    data: str  # the message as encoded by the program's encoder
    final: bool = False


class ResultMessage(_Message):
    type: Literal["result"] = "result"
    data: str  # RuntimeEncoder JSON of main's return value


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    error_type: _NAME
    message: _TEXT
    traceback: _TEXT = ""
    limit: str | None = None  # set when the error is an admission refusal


class JobEndMessage(_Message):
    """The fork server's account of one job's process, after it ended and was cleaned up.

    ``clean`` says every other process is gone, ``/tmp`` and ``/dev/shm`` are empty and the
    server holds no descriptor of the job; ``problem`` says what was not so (or that the job
    wrote a line starting with the server's mark). The host takes CPU and memory from the
    container's cgroup where it can, and these figures otherwise.
    """

    type: Literal["job_end"] = "job_end"
    exit_code: int | None = Field(default=None, ge=0, le=255)
    signal: int | None = Field(default=None, ge=1, le=128)
    cpu_seconds: float = Field(ge=0, le=1e9)
    max_rss_bytes: int = Field(ge=0, le=1 << 50)
    clean: bool
    problem: Annotated[str, Field(max_length=2000)] | None = None
    violation: bool = False  # the job wrote a line starting with SERVER_MARK


SandboxMessage = Annotated[
    ReadyMessage | BackendRunMessage | PublishMessage | ResultMessage | ErrorMessage,
    Field(discriminator="type"),
]

FINAL_TYPES = frozenset({"result", "error"})

_sandbox_adapter: TypeAdapter[Any] = TypeAdapter(SandboxMessage)
_host_adapter: TypeAdapter[Any] = TypeAdapter(HostMessage)
_server_adapter: TypeAdapter[Any] = TypeAdapter(JobEndMessage)


def _parse(adapter: TypeAdapter[Any], line: bytes | str) -> Any:
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolViolation(f"message is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolViolation("message must be a JSON object")
    if raw.get("v") != PROTOCOL_VERSION:
        raise ProtocolViolation(f"unsupported protocol version {raw.get('v')!r}")
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ProtocolViolation(
            f"invalid {raw.get('type')!r} message: {where}: {first['msg']}"
        ) from None


def parse_sandbox_message(line: bytes | str) -> Any:
    """Validate one line the sandbox sent; raise :class:`ProtocolViolation` if it is not a
    well-formed sandbox message."""
    return _parse(_sandbox_adapter, line)


def parse_server_message(line: bytes | str) -> JobEndMessage:
    """Validate one line of the fork server's own (without its :data:`SERVER_MARK`)."""
    return _parse(_server_adapter, line)


def parse_host_message(line: bytes | str) -> Any:
    """Validate one line the host sent (used by the runner)."""
    return _parse(_host_adapter, line)


class MessageReader:
    """Splits a byte stream into lines while enforcing the per-job protocol limits.

    Feed it chunks as they arrive; it returns the complete lines. A line longer than
    ``max_line_bytes``, more than ``max_messages`` lines, or more than ``max_total_bytes`` in
    all raises :class:`ProtocolViolation`.
    """

    def __init__(self, max_line_bytes: int, max_messages: int, max_total_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_messages = max_messages
        self.max_total_bytes = max_total_bytes
        self.messages = 0
        self.total_bytes = 0
        self._pending = bytearray()  # grows in place; handed out whole when a line ends

    def feed(self, chunk: bytes) -> list[bytearray]:
        """Add ``chunk``; return the lines it completed (without their newline)."""
        self.total_bytes += len(chunk)
        if self.total_bytes > self.max_total_bytes:
            raise ProtocolViolation(
                f"sandbox sent more than {self.max_total_bytes} bytes of protocol messages"
            )
        lines: list[bytearray] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            self._append(chunk, start, end)
            line, self._pending = self._pending, bytearray()
            start = end + 1
            if not line or line.isspace():
                continue
            self.messages += 1
            if self.messages > self.max_messages:
                raise ProtocolViolation(f"sandbox sent more than {self.max_messages} messages")
            lines.append(line)
        self._append(chunk, start, len(chunk))
        return lines

    def _append(self, chunk: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        if len(self._pending) + end - start > self.max_line_bytes:
            raise ProtocolViolation(
                f"a protocol line is longer than the limit of {self.max_line_bytes} bytes"
            )
        self._pending += memoryview(chunk)[start:end]

    @property
    def has_partial_line(self) -> bool:
        """True when bytes of an unfinished line are buffered."""
        return bool(self._pending)
