"""One job in the sandbox, from container creation to its final state.

:func:`run_job` runs one checked :class:`~engine.job_spec.JobSpec` and is the whole lifecycle
of its container, readable top to bottom. It checks nothing the spec already holds (the
service, or :mod:`engine.submission` for a local run, did that once):

1. make sure the per-program image exists (content-addressed, so usually a cache hit);
2. create the container locked down and attached, start it, send ``start``; while it boots,
   describe the backend (this overlaps the host's Qiskit import with the container's);
3. relay messages until the stream ends: ``publish`` is checked (off the relay thread) and
   handed to ``on_interim`` still encoded, ``backend_run`` passes admission and runs on the
   host's pool, ``result``/``error`` is the one final message (a result is checked and
   trial-decoded off the relay thread), after which the runner gets a short grace period;
4. a watchdog check in the same loop kills the container at ``max_execution_time`` or after a
   cancel; kills always happen on a separate thread;
5. classify the end (DONE, ERROR or CANCELLED with a :class:`~engine.records.Reason`), read
   the resource usage, and remove the container, whatever happened; or, with a reusing
   :class:`~engine.sandbox.pool.WarmPool`, give it back for the next job of the same user and
   program version when the fork server reported the job's process ended and everything it
   left cleaned up (``job_end``), and the job ended in a way that leaves nothing in doubt.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import (
    DecodeError,
    ProtocolViolation,
    SandboxError,
    SandboxLost,
    SandboxUnavailable,
)
from engine.protocol import (
    SERVER_MARK,
    BackendFailure,
    BackendResultMessage,
    BackendRunMessage,
    CancelMessage,
    ErrorMessage,
    JobEndMessage,
    MessageReader,
    PublishMessage,
    ReadyMessage,
    ResultMessage,
    SandboxLimits,
    StartMessage,
    parse_sandbox_message,
    parse_server_message,
)
from engine.records import JobStatus, Reason
from engine.sandbox.cgroup import ContainerCgroup
from engine.sandbox.container import STDERR, STDOUT, ContainerSpec, SandboxContainer, WriteTimeout
from engine.sandbox.policy import SandboxPolicy, load_sandbox_policy
from engine.settings import get_settings

if TYPE_CHECKING:
    from engine.job_spec import JobSpec

log = logging.getLogger(__name__)

_USAGE_SAMPLE_SECONDS = 0.2

DONE = JobStatus.DONE
ERROR = JobStatus.ERROR
CANCELLED = JobStatus.CANCELLED

# The reason of an ``error`` message from the runner, by the exception type it names.
_ERROR_REASONS = {
    "BackendRejected": Reason.BACKEND_REJECTED,
    "ResultNotSerializable": Reason.RESULT_NOT_SERIALIZABLE,
}
# The ends after which a container may serve the next job of its key: the program said its
# final word and the container was not killed, cancelled or out of memory.
_REUSABLE_ENDS = {None, Reason.PROGRAM_EXCEPTION, Reason.BACKEND_REJECTED,
                  Reason.RESULT_NOT_SERIALIZABLE}


@dataclass
class ErrorInfo:
    """The error that ended a job: the program's exception, or the engine's account of it."""

    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True)
class InterimMessage:
    """One interim result as it arrived: its number and its wire form.

    :attr:`value` decodes ``data`` with ``RuntimeDecoder`` (within its budget) each time it is
    read; nothing decoded is kept.
    """

    seq: int
    data: str

    @property
    def value(self) -> Any:
        """The decoded message; raises :class:`~engine.errors.DecodeError` if it is refused."""
        return _decode(self.data)


@dataclass
class Outcome:
    """How one run ended, with everything it produced.

    ``result_data`` is the result as the sandbox encoded it (checked on arrival, see
    :func:`~engine.serialization.payload.check_payload`); :attr:`result` decodes it with
    ``RuntimeDecoder`` on first use. ``interim_data`` holds the interim messages as encoded;
    :attr:`interim` decodes them each time it is read and keeps nothing decoded.
    """

    status: JobStatus
    reason: Reason | None = None
    logs: str = ""
    error: ErrorInfo | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    result_data: str | None = None
    interim_data: list[str] = field(default_factory=list)  # interim messages as encoded
    spec: JobSpec | None = field(default=None, repr=False)  # the job that ran
    _decoded: list[Any] = field(default_factory=list, repr=False)

    @property
    def result(self) -> Any:
        """The decoded result (``None`` when there is none)."""
        if self.result_data is None:
            return None
        if not self._decoded:
            self._decoded.append(_decode(self.result_data))
        return self._decoded[0]

    @property
    def interim(self) -> list[Any]:
        """The interim messages, decoded now (a refused one raises ``DecodeError``)."""
        return [_decode(data) for data in self.interim_data]

    def to_dict(self) -> dict[str, Any]:
        """The run as the one job document every door shows (:mod:`engine.documents`), with
        its result, logs and interim results, values in the RuntimeEncoder wire form."""
        from engine.documents import JobDocument, JobError

        spec = self.spec
        return JobDocument(
            id=spec.job_id if spec else "",
            program_id=spec.program_id if spec else None,
            program_version=spec.program_version if spec else None,
            owner=spec.user if spec else "",
            status=self.status,
            reason=self.reason,
            backend=spec.backend if spec else "",
            profile=spec.profile if spec else None,
            inputs=json.loads(spec.inputs) if spec else {},
            options={},
            created_at=None,
            started_at=None,
            ended_at=None,
            error=JobError(**asdict(self.error)) if self.error else None,
            metrics=self.metrics,
            cancel_requested=self.reason == Reason.USER,
            message_count=len(self.interim_data),
            result=json.loads(self.result_data) if self.result_data is not None else None,
            logs=self.logs,
            interim_results=[json.loads(data) for data in self.interim_data],
        ).to_json()


def run_job(
    spec: JobSpec,
    on_interim: Callable[[InterimMessage], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    on_log: Callable[[str], None] | None = None,
    client: Any = None,
    registry: Any = None,
    policy: SandboxPolicy | None = None,
    pool: Any = None,
    lost: threading.Event | None = None,
    docker_answers: Callable[[], bool] | None = None,
) -> Outcome:
    """Run ``spec`` in a sandbox container and return its :class:`Outcome`.

    ``on_interim`` gets each :class:`InterimMessage` that passes the checks, in order, off the
    relay thread, and ``on_log`` each piece of what the program prints (text, within the log
    cap); setting ``cancel`` cancels the job, setting ``lost`` (Docker has not answered for too
    long) ends it ``ERROR``/``sandbox_lost`` at once, leaving its container to be reaped;
    ``lost`` is also set when Docker was lost during the run (the container may then be left
    behind until Docker answers again). ``docker_answers`` pings Docker on a new connection:
    a sandbox that ended without a final message while Docker stopped answering is
    ``sandbox_lost``, not ``sandbox_crashed`` (a daemon shutting down stops its containers
    first). ``backend.run`` is answered by ``registry``
    (default: this process's). With a :class:`~engine.sandbox.pool.WarmPool`, the run takes
    a container started ahead of time when one is ready. Only the engine failing to start
    the sandbox raises (:class:`~engine.errors.SandboxUnavailable`); everything that happens
    once the program runs ends in the returned Outcome.
    """
    from engine.sandbox.docker_client import shared_client
    from engine.sandbox.images import ensure_program_image

    policy = policy or load_sandbox_policy()
    registry = registry or default_registry()

    def prepare() -> StartMessage:
        # Runs while the container boots: this is where the host imports Qiskit.
        registry.prepare_workers()
        return StartMessage(
            job_id=spec.job_id,
            entry=spec.entry,
            inputs=spec.inputs,
            backend=registry.describe(spec.backend),
            limits=SandboxLimits(
                max_message_bytes=int(policy.protocol.max_message_bytes),
                max_traceback_chars=policy.protocol.max_traceback_chars,
            ),
        )

    from engine.sandbox.pool import LABEL_PROFILE, LABEL_PROGRAM, LABEL_USER, PoolKey

    client = client or shared_client()
    image = ensure_program_image(spec.files, client=client)
    program = f"{spec.program_id}@{spec.program_version}" if spec.program_id else None
    labels = {LABEL_USER: spec.user, LABEL_PROGRAM: program or "",
              LABEL_PROFILE: spec.profile or policy.default_profile}
    container_spec = ContainerSpec(image=image, job_id=spec.job_id, profile=spec.resources,
                                   runtime=get_settings().sandbox_runtime, labels=labels)
    # Reuse is keyed narrowly: this user's jobs of this program version, profile and runtime.
    reusing = pool is not None and pool.reuse
    key = PoolKey.of(container_spec, spec.user, program) if reusing else None
    run = _Run(
        client=client,
        registry=registry,
        policy=policy,
        spec=container_spec,
        warm=pool.take(container_spec, key) if pool is not None else None,
        on_interim=on_interim,
        on_log=on_log,
        cancel=cancel or threading.Event(),
        lost=lost if lost is not None else threading.Event(),
        docker_answers=docker_answers,
        max_execution_time=spec.limits.max_execution_time,
    )
    run.release = (lambda container, reusable: pool.release(
        key or PoolKey.of(container_spec), container, reusable)) if pool is not None else None
    outcome = run.execute(prepare, registry.resolve(spec.backend))
    outcome.spec = spec
    return outcome


class _Run:
    """The state of one run while its container is alive."""

    def __init__(self, *, client: Any, registry: Any, policy: SandboxPolicy,
                 spec: ContainerSpec, warm: SandboxContainer | None,
                 on_interim: Callable[[InterimMessage], None] | None,
                 on_log: Callable[[str], None] | None, cancel: threading.Event,
                 lost: threading.Event, docker_answers: Callable[[], bool] | None,
                 max_execution_time: float) -> None:
        from engine.backends import JobUsage

        self.registry = registry
        self.policy = policy
        self.limits = policy.protocol
        self.container = warm or SandboxContainer(client, spec)
        self.warm = warm is not None
        self.on_interim = on_interim
        self.on_log = on_log
        self._log_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.cancel = cancel
        self.lost = lost
        self.docker_answers = docker_answers
        self.max_execution_time = max_execution_time
        self.usage = JobUsage()
        self.reader = MessageReader(
            int(self.limits.max_line_bytes), self.limits.max_messages,
            int(self.limits.max_total_bytes),
        )
        self.outcome: Outcome | None = None  # set once: the job's final state
        self._outcome_lock = threading.Lock()
        self.final_at: float | None = None
        self.final_published: str | None = None
        self.interim_data: list[str] = []
        self.interim_dropped = 0
        self.interim_refused: list[str] = []  # why each refused interim message was refused
        # Checks and trial decodes of payloads, in arrival order, off the relay thread.
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payload-check")
        self.logs = bytearray()
        self.logs_discarded = 0
        self.ready_at: float | None = None
        self.started_at = 0.0
        self.cpu: float | None = None
        self.peak: int | None = None
        self.sampled_at = 0.0
        # A reused container's counters started before this job: CPU is counted from the
        # job's start, and the peak is reset then (or taken from the job's rusage).
        self.cgroup: ContainerCgroup | None = None
        self.cpu_base = 0.0
        self.peak_from_cgroup = True
        self.oom_base = 0
        self.job_end: JobEndMessage | None = None  # the fork server's word on the job's end
        self.oom_killed = False
        self.release: Callable[[SandboxContainer | None, bool], None] | None = None

    # --- the lifecycle ---------------------------------------------------------------------

    def execute(self, prepare: Callable[[], StartMessage], backend_name: str) -> Outcome:
        """Boot the container while ``prepare`` builds the start message, then relay."""
        created = time.monotonic()
        prepared: list[Any] = []
        preparing = threading.Thread(target=_capture, args=(prepare, prepared), name="prepare")
        preparing.start()
        try:
            try:
                if self.warm:
                    self.ready_at = time.monotonic()  # its runner said ready in the pool
                else:
                    self.container.create()
                    self.container.start()
                self._count_from_here()
                self.started_at = time.monotonic()
            finally:
                preparing.join()
            start = prepared[0]
            if isinstance(start, BaseException):
                raise start  # bad inputs: nothing ran
            self.container.jobs += 1
            self._send(start)
            self._relay(backend_name)
            self._checks.shutdown(wait=True)  # the result's check decides DONE or ERROR
            if self.lost.is_set():
                raise SandboxLost("Docker did not answer for too long while the sandbox ran")
            if self.job_end is not None:
                self._sample_usage()
                self._classify_job_end(self.job_end)
            else:
                state = self.container.wait(timeout=10)
                if self.outcome is None and self.docker_answers is not None and not (
                        self.docker_answers()):
                    raise SandboxLost("Docker stopped while the sandbox ran (the sandbox ended "
                                      f"with code {state.get('ExitCode')} without a final "
                                      f"message)")
                self._sample_usage()
                self._classify_exit(state)
        except SandboxUnavailable:
            raise  # the runtime could not start the container: nothing of the program ran
        except SandboxLost as exc:  # the container's end cannot be known
            self.lost.set()
            self._finish(ERROR, Reason.SANDBOX_LOST, error=ErrorInfo("SandboxLost", str(exc)))
        except SandboxError as exc:
            self._finish(ERROR, Reason.SANDBOX_CRASHED,
                         error=ErrorInfo(type(exc).__name__, str(exc)))
        finally:
            self.usage.close()  # the job's simulations end with it
            self._checks.shutdown(wait=True, cancel_futures=True)
            if self.lost.is_set():
                self.container.close_stream()  # no Docker call: it may hang; reaped later
                if self.release is not None:
                    self.release(None, False)  # the pool forgets it; the reaper removes it
            elif self.release is not None:
                self.release(self.container, self._reusable())
            else:
                self.container.kill_soon()
                if not self.container.remove():
                    self.lost.set()  # Docker went away at the end: reaped once it is back
        assert self.outcome is not None
        self.outcome.metrics.update(self._metrics(time.monotonic() - created))
        return self.outcome

    def _relay(self, backend_name: str) -> None:
        """Read the container's output until it ends, acting on each message."""
        deadline = self.started_at + self.max_execution_time
        cancel_at: float | None = None
        while True:
            frames = self.container.read(timeout=0.1)
            if frames is None or self.lost.is_set():
                return
            for stream, data in frames:
                if stream == STDOUT:
                    self._on_protocol_bytes(data, backend_name)
                elif stream == STDERR:
                    self._on_log_bytes(data)
            if self.job_end is not None:
                return  # the job's process has ended; the container waits for the next
            now = time.monotonic()
            if now - self.sampled_at >= _USAGE_SAMPLE_SECONDS:
                self._sample_usage()  # the cgroup goes with the container: read it as we go
            if self.container.kill_requested:
                continue  # keep draining until the stream ends
            if self.final_at is not None:
                if now - self.final_at > self.policy.timing.final_grace_seconds:
                    self.container.kill_soon()
            elif self.cancel.is_set():
                if cancel_at is None:
                    cancel_at = now
                    self._finish(CANCELLED, Reason.USER)
                    self.usage.close()
                    self._try_send(CancelMessage())
                if now - cancel_at >= self.policy.timing.cancel_grace_seconds:
                    self.container.kill_soon()
            elif now > deadline:
                self._sample_usage()
                self._finish(
                    CANCELLED, Reason.RAN_TOO_LONG,
                    error=ErrorInfo("RanTooLong",
                                    f"the program ran longer than max_execution_time "
                                    f"({self.max_execution_time:g} s)"),
                )
                self.container.kill_soon()
            elif self.ready_at is None and now - self.started_at > (
                self.policy.timing.ready_timeout_seconds
            ):
                self._finish(ERROR, Reason.SANDBOX_CRASHED,
                             error=ErrorInfo("SandboxStartTimeout",
                                             "the sandbox did not become ready in time"))
                self.container.kill_soon()

    def _classify_exit(self, state: dict[str, Any]) -> None:
        """Name the end of a run that sent no final message (the first recorded end wins)."""
        exit_code = state.get("ExitCode")
        if state.get("OOMKilled"):
            self._out_of_memory()
        self._finish(ERROR, Reason.SANDBOX_CRASHED, error=ErrorInfo(
            "SandboxCrashed",
            f"the sandbox exited with code {exit_code} without sending a result"))

    def _classify_job_end(self, end: JobEndMessage) -> None:
        """Name the end of a job whose process ended while its container lives on."""
        if end.violation:
            self._violation("the program wrote a line starting with the fork server's mark")
        if self.cpu is None:
            self.cpu = end.cpu_seconds
        if not self.peak_from_cgroup or self.peak is None:
            self.peak = end.max_rss_bytes
        memory = int(self.container.spec.profile.memory)
        kills = self.cgroup.oom_kills() if self.cgroup is not None else None
        if (kills is not None and kills > self.oom_base) or (
            kills is None and end.signal == 9 and end.max_rss_bytes >= 0.9 * memory
        ):
            self.oom_killed = True
            self._out_of_memory()
        code = end.exit_code if end.signal is None else 128 + end.signal
        self._finish(ERROR, Reason.SANDBOX_CRASHED, error=ErrorInfo(
            "SandboxCrashed",
            f"the program's process exited with code {code} without sending a result"))

    def _out_of_memory(self) -> None:
        memory = int(self.container.spec.profile.memory)
        self.peak = memory  # it reached its limit
        self._finish(ERROR, Reason.OUT_OF_MEMORY, error=ErrorInfo(
            "OutOfMemory", f"the program exceeded its memory limit ({memory} bytes)"))

    def _reusable(self) -> bool:
        """Whether the container may serve the next job of its key: the fork server saw the
        job's process end and cleaned up after it, the program sent its final word, and
        nothing killed, cancelled or exhausted the container."""
        outcome = self.outcome
        return (self.job_end is not None and self.job_end.clean and self.final_at is not None
                and outcome is not None and outcome.reason in _REUSABLE_ENDS
                and not self.oom_killed and not self.container.kill_requested
                and not self.cancel.is_set())

    def _count_from_here(self) -> None:
        """Start this job's counters: a reused container's cgroup already counts its
        earlier jobs (a fresh one's start-up counts, as it always did)."""
        if self.container.id is None:
            return
        self.cgroup = ContainerCgroup(self.container.id)
        self.oom_base = self.cgroup.oom_kills() or 0
        if self.container.jobs > 0:
            self.cpu_base = self.cgroup.cpu_seconds() or 0.0
            self.peak_from_cgroup = self.cgroup.reset_peak()

    # --- messages ----------------------------------------------------------------------------

    def _on_protocol_bytes(self, data: bytes, backend_name: str) -> None:
        if self.outcome is not None and self.outcome.reason == Reason.PROTOCOL_VIOLATION:
            return
        try:
            lines = self.reader.feed(data)
            while lines:
                line = lines.pop(0)
                if line[:1] == SERVER_MARK or line[-1:] == SERVER_MARK:
                    self._on_server_line(line)
                    continue
                # Decode first, so the line's bytes are freed before parsing: a large result
                # is held at most twice (its text, then its parsed value).
                text = line.decode("utf-8")
                del line
                message = parse_sandbox_message(text)
                del text
                self._on_message(message, backend_name)
        except UnicodeDecodeError as exc:
            self._violation(f"a protocol line is not UTF-8: {exc.reason}")
        except (ProtocolViolation, DecodeError) as exc:
            self._violation(str(exc))

    def _on_server_line(self, line: bytearray) -> None:
        """A line of the fork server's own (``job_end``), or a job's unfinished last line
        that the server cut off with its mark (dropped, as an unfinished line always was)."""
        if line[:1] != SERVER_MARK:
            return
        self.job_end = parse_server_message(bytes(line[1:]))

    def _on_message(self, message: Any, backend_name: str) -> None:
        if self.final_at is not None or self.outcome is not None:
            return  # exactly one final message counts; anything after it is ignored
        if isinstance(message, ReadyMessage):
            if self.ready_at is None:
                self.ready_at = time.monotonic()
        elif isinstance(message, PublishMessage):
            self._on_publish(message)
        elif isinstance(message, BackendRunMessage):
            self._on_backend_run(message, backend_name)
        elif isinstance(message, ResultMessage):
            self._on_result(message)
        elif isinstance(message, ErrorMessage):
            from engine.serialization.payload import scrub_text  # the texts are stored as sent

            self.final_at = time.monotonic()
            self._sample_usage()
            reason = _ERROR_REASONS.get(message.error_type, Reason.PROGRAM_EXCEPTION)
            self._finish(ERROR, reason, error=ErrorInfo(
                scrub_text(message.error_type), scrub_text(message.message),
                scrub_text(message.traceback) or None))

    def _on_publish(self, message: PublishMessage) -> None:
        if message.final:
            self.final_published = message.data
            return
        self._checks.submit(self._accept_interim, message.data)

    def _accept_interim(self, data: str) -> None:
        """On the checking thread: keep an interim message, still encoded, if it passes the
        cheap checks (it is decoded only when read)."""
        from engine.serialization.payload import check_payload

        try:
            check_payload(data)
            json.loads(data)  # valid JSON, so every reader can show it; the value is dropped
        except DecodeError as exc:
            self.interim_refused.append(str(exc))
            return
        except (ValueError, RecursionError) as exc:
            self.interim_refused.append(f"an interim message is not JSON: {exc}")
            return
        if len(self.interim_data) >= self.limits.max_interim_messages:
            self.interim_dropped += 1
            return
        self.interim_data.append(data)
        if self.on_interim is not None:
            try:
                self.on_interim(InterimMessage(len(self.interim_data), data))
            except Exception:
                log.exception("on_interim callback failed")

    def _on_result(self, message: ResultMessage) -> None:
        self.final_at = time.monotonic()
        self._sample_usage()
        data = message.data
        if data == "null" and self.final_published is not None:
            data = self.final_published  # main returned nothing but published a final result
        self._checks.submit(self._accept_result, data)

    def _accept_result(self, data: str) -> None:
        """On the checking thread: the job is DONE only if its result can be stored and read
        back within the decode budget."""
        from engine.serialization.payload import check_payload

        try:
            check_payload(data, trial_decode=True)
        except Exception as exc:  # DecodeError, or anything a hostile payload provokes
            self._finish(ERROR, Reason.RESULT_INVALID, error=ErrorInfo(
                "ResultInvalid", f"the program's result was refused: {exc}"))
            return
        self._finish(DONE, None, result_data=data)

    def _on_backend_run(self, message: BackendRunMessage, backend_name: str) -> None:
        from engine.errors import BackendRejected

        try:
            future = self.registry.submit(
                backend_name, message.circuits, message.options, self.usage
            )
        except BackendRejected as exc:
            self._reply(BackendResultMessage(request_id=message.request_id, error=BackendFailure(
                type="BackendRejected", message=str(exc), limit=exc.limit)))
            return
        future.add_done_callback(lambda f: self._on_backend_done(message.request_id, f))

    def _on_backend_done(self, request_id: str, future: Future[str]) -> None:
        from engine.errors import BackendRejected

        try:
            reply = BackendResultMessage(request_id=request_id, result=future.result())
        except BackendRejected as exc:  # refused by the job's worker or bounds, limit named
            reply = BackendResultMessage(request_id=request_id, error=BackendFailure(
                type="BackendRejected", message=str(exc)[:2000], limit=exc.limit))
        except Exception as exc:
            reply = BackendResultMessage(request_id=request_id, error=BackendFailure(
                type=type(exc).__name__, message=str(exc)[:2000]))
        self._reply(reply)

    def _reply(self, reply: BackendResultMessage) -> None:
        # After the final message nothing in the sandbox reads replies any more: they are
        # dropped, and a reply that could not be written then is not the program's fault.
        if self.container.kill_requested or self.final_at is not None:
            return
        try:
            self._send(reply)
        except WriteTimeout as exc:
            # Not reading its input is a violation only while the sandbox runs: one that has
            # already exited (its final message is still in the stream) reads nothing.
            if self.final_at is None and self.container.wait(timeout=0).get("Running"):
                self._violation(str(exc))
            self.container.kill_soon()
        except SandboxError:
            pass  # the container is gone; its end is classified by the reader

    def _on_log_bytes(self, data: bytes) -> None:
        room = int(self.policy.logs.max_bytes) - len(self.logs)
        kept = data[:room] if room > 0 else b""
        self.logs += kept
        self.logs_discarded += len(data) - len(kept)
        if kept and self.on_log is not None:
            text = self._log_decoder.decode(kept)
            if text:
                try:
                    self.on_log(text)
                except Exception:
                    log.exception("on_log callback failed")

    # --- helpers -------------------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        self.container.write(message.to_line(), self.policy.timing.write_timeout_seconds)

    def _try_send(self, message: Any) -> None:
        with contextlib.suppress(SandboxError):
            self.container.write(message.to_line(), timeout=0.5)

    def _violation(self, detail: str) -> None:
        self._finish(ERROR, Reason.PROTOCOL_VIOLATION, error=ErrorInfo("ProtocolViolation", detail))
        self.container.kill_soon()

    def _finish(self, status: JobStatus, reason: Reason | None, *, result_data: str | None = None,
                error: ErrorInfo | None = None) -> None:
        """Record the final state; the first call wins."""
        with self._outcome_lock:
            if self.outcome is not None:
                return
            self.outcome = Outcome(status=status, reason=reason, result_data=result_data,
                                   error=error)

    def _sample_usage(self) -> None:
        self.sampled_at = time.monotonic()
        cpu, peak = self.container.resource_usage()
        self.cpu = max(cpu - self.cpu_base, 0.0) if cpu is not None else self.cpu
        if self.peak_from_cgroup:
            self.peak = peak if peak is not None else self.peak

    def _metrics(self, wall: float) -> dict[str, Any]:
        assert self.outcome is not None
        self.outcome.interim_data = self.interim_data
        logs = self.logs.decode("utf-8", errors="replace")
        if self.logs_discarded:
            logs += f"\n[{self.logs_discarded} more bytes of logs discarded]\n"
        if self.interim_refused:
            from engine.serialization.payload import scrub_text

            logs += (f"\n[{len(self.interim_refused)} interim messages refused; the first: "
                     f"{scrub_text(self.interim_refused[0])}]\n")
        self.outcome.logs = logs
        return {
            "wall_seconds": round(wall, 4),
            "warm_start": self.warm,
            "reused": self.container.jobs > 1,
            "start_seconds": (round(self.ready_at - self.started_at, 4)
                              if self.ready_at is not None else None),
            "cpu_seconds": round(self.cpu, 4) if self.cpu is not None else None,
            "peak_memory_bytes": self.peak,
            "backend_calls": self.usage.calls,
            "shots": self.usage.shots,
            "interim_messages": len(self.interim_data),
            "interim_dropped": self.interim_dropped,
            "interim_refused": len(self.interim_refused),
            "protocol_bytes": self.reader.total_bytes,
        }


def _decode(data: str) -> Any:
    from engine.serialization import RuntimeDecoder

    try:
        return json.loads(data, cls=RuntimeDecoder)
    except DecodeError:
        raise  # it names the type and the rule (and the limit, for the budget)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"undecodable payload from the sandbox: {exc}") from None


def _capture(function: Callable[[], Any], into: list[Any]) -> None:
    try:
        into.append(function())
    except BaseException as exc:
        into.append(exc)


_registry_lock = threading.Lock()
_registry: Any = None


def default_registry() -> Any:
    """The process's backend registry (one worker pool shared by all runs)."""
    global _registry
    from engine.backends import BackendRegistry

    with _registry_lock:
        if _registry is None:
            _registry = BackendRegistry()
        return _registry
