"""``RemoteRuntimeService``: the embedded service's interface, over a daemon's HTTP API.

    from engine.client import RemoteRuntimeService

    service = RemoteRuntimeService("http://127.0.0.1:8787", token)
    program_id = service.upload_program("program_source/hello_world")
    job = service.run(program_id, {"iterations": 2}, callback=print)
    print(job.result())

Methods, arguments, return types and exceptions are those of
:class:`~engine.service.RuntimeService`: the daemon answers every refusal with a problem
document naming the :mod:`engine.errors` class the embedded service raises, and the client
raises that class again (with its ``problems``, ``violations``, ``report``, ... rebuilt).
Refusals that only HTTP has raise :class:`~engine.errors.AuthenticationError` (401) or
:class:`~engine.errors.RemoteError` (413, 5xx, the daemon unreachable).

Jobs are the same :class:`RuntimeJob` as embedded, reading through this client: waiting is
a long poll (``GET /v1/jobs/{id}?wait=`` with ``If-None-Match``), so a result arrives as soon
as the daemon has it; :meth:`RuntimeJob.stream_results` follows the job's server-sent events
and, when the connection drops, reconnects with ``Last-Event-ID``, so no message is lost or
repeated.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from engine import errors
from engine.audit import AuditRecord
from engine.errors import (
    AuthenticationError,
    EngineError,
    InputValidationError,
    JobNotFound,
    ProgramError,
    RemoteError,
    RuntimeJobTimeout,
)
from engine.interface import RuntimeServiceInterface
from engine.program import ResultDecoder
from engine.records import JobRecord, JobStatus, ProgramRecord, ProgramVersionRecord
from engine.reviews import ProgramReview
from engine.runtime_job import RuntimeJob
from engine.runtime_program import RuntimeProgram

__all__ = ["RemoteRuntimeJob", "RemoteRuntimeService"]

_PAGE = 1000
_INVALID_VALUE = "urn:program-engine:problem:invalid-value"
_INCLUDE = {"include": ["result", "logs"]}

# The classes a problem's ``error`` member may name: engine errors only, never anything else.
_ERROR_CLASSES: dict[str, type[EngineError]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, EngineError)
}


class RemoteRuntimeService(RuntimeServiceInterface):
    """A daemon's programs and jobs, through the embedded service's interface.

    ``url`` is the daemon's base URL, ``token`` a bearer token from ``program-engine users
    add``. ``timeout`` bounds each request (uploads build an image: allow for it).
    ``rate_limit_retries``: how often a request refused with 429 and ``Retry-After`` is sent
    again after the wait. ``reconnect_seconds``: how long a dropped event stream is retried
    before :class:`RemoteError`. ``long_poll_seconds``: how long one request waiting for a
    job may stay open (the daemon answers as soon as the job changes, and caps the wait).
    ``stream_drain_seconds``: how long waiting for a job's end also waits for its event stream
    to deliver the last interim messages to the callback.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 120.0,
        *,
        rate_limit_retries: int = 5,
        reconnect_seconds: float = 30.0,
        long_poll_seconds: float = 25.0,
        stream_drain_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// URL, got {url!r}")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.rate_limit_retries = rate_limit_retries
        self.reconnect_seconds = reconnect_seconds
        self.long_poll_seconds = long_poll_seconds
        self.stream_drain_seconds = stream_drain_seconds
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=transport)
        self._etags: dict[str, str] = {}
        self._whoami: dict[str, Any] | None = None

    # --- who and lifecycle -------------------------------------------------------------------

    @property
    def user(self) -> str:
        """The user the token belongs to."""
        return str(self._identity()["name"])

    @property
    def is_admin(self) -> bool:
        return bool(self._identity()["is_admin"])

    def _identity(self) -> dict[str, Any]:
        if self._whoami is None:
            self._whoami = self._request("GET", "/v1/whoami").json()
        return self._whoami

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteRuntimeService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteRuntimeService({self.url!r})"

    # --- programs ----------------------------------------------------------------------------

    def upload_program(self, data: Any, metadata: Any = None, *, new: bool = False) -> str:
        files, form = _program_parts(data, metadata, required=True)
        if new:
            form["new"] = "true"
        response = self._request("POST", "/v1/programs", files=files, data=form)
        return str(response.json()["id"])

    def update_program(
        self,
        program_id: str,
        data: Any = None,
        metadata: Any = None,
        name: str | None = None,
        description: str | None = None,
        max_execution_time: float | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        path = f"/v1/programs/{_segment(program_id)}"
        if data is None:
            body: dict[str, Any] = {
                "metadata": None if metadata is None else _metadata_object(metadata),
                "name": name,
                "description": description,
                "max_execution_time": max_execution_time,
                "spec": spec,
            }
            self._request("PATCH", path, json={k: v for k, v in body.items() if v is not None})
            return
        files, form = _program_parts(data, metadata, required=False)
        fields = {"name": name, "description": description,
                  "max_execution_time": None if max_execution_time is None
                  else json.dumps(max_execution_time),
                  "spec": None if spec is None else json.dumps(spec)}
        form.update({key: value for key, value in fields.items() if value is not None})
        self._request("PUT", path, files=files, data=form)

    def programs(self, limit: int | None = 20, skip: int = 0) -> list[RuntimeProgram]:
        if limit is not None:
            return self._programs_page(limit, skip)
        found: list[RuntimeProgram] = []
        while True:
            page = self._programs_page(_PAGE, skip + len(found))
            if not page:
                return found
            found.extend(page)

    def _programs_page(self, limit: int, skip: int) -> list[RuntimeProgram]:
        response = self._request("GET", "/v1/programs", params={"limit": limit, "skip": skip})
        return [_program(item) for item in response.json()["programs"]]

    def program(self, program_id: str) -> RuntimeProgram:
        return _program(self._request("GET", f"/v1/programs/{_segment(program_id)}").json())

    def set_program_visibility(self, program_id: str, public: bool) -> None:
        self._request("PUT", f"/v1/programs/{_segment(program_id)}/visibility",
                      json={"public": bool(public)})

    def delete_program(self, program_id: str) -> None:
        self._request("DELETE", f"/v1/programs/{_segment(program_id)}")

    # --- jobs --------------------------------------------------------------------------------

    def run(
        self,
        program_id: str,
        inputs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        callback: Callable[[str, Any], None] | None = None,
        result_decoder: type[ResultDecoder] | None = None,
    ) -> RuntimeJob:
        from engine.serialization import RuntimeEncoder

        encoded = json.dumps(dict(inputs or {}), cls=RuntimeEncoder)
        try:
            options_text = json.dumps(dict(options or {}))
        except (TypeError, ValueError) as exc:
            raise InputValidationError([("options", f"not JSON-serializable: {exc}")],
                                       what="options") from None
        body = (f'{{"program_id": {json.dumps(program_id)}, "inputs": {encoded}, '
                f'"options": {options_text}}}')
        response = self._request("POST", "/v1/jobs", content=body.encode("utf-8"),
                                 headers={"Content-Type": "application/json"})
        job = RemoteRuntimeJob(self, self._record(response), result_decoder)
        if callback is not None:
            job.stream_results(callback)
        return job

    def job(self, job_id: str) -> RuntimeJob:
        return RemoteRuntimeJob(self, self.job_record(job_id), complete=True)

    def jobs(
        self,
        program_id: str | None = None,
        status: str | JobStatus | None = None,
        limit: int | None = 10,
        skip: int = 0,
        created_after: datetime | None = None,
    ) -> list[RuntimeJob]:
        params: dict[str, Any] = {"skip": skip}
        if program_id is not None:
            params["program_id"] = program_id
        if status is not None:
            params["status"] = str(getattr(status, "value", status))
        if created_after is not None:
            params["created_after"] = created_after.isoformat()
        records: list[JobRecord] = []
        while True:
            params["limit"] = _PAGE if limit is None else limit
            params["skip"] = skip + len(records)
            items = self._request("GET", "/v1/jobs", params=params).json()["jobs"]
            records.extend(_job_record(item) for item in items)
            if limit is not None or not items:
                break
        return [RemoteRuntimeJob(self, record) for record in records]

    def delete_job(self, job_id: str) -> None:
        self._request("DELETE", f"/v1/jobs/{_segment(job_id)}")

    def backends(self) -> list[str]:
        return list(self._request("GET", "/v1/backends").json()["backends"])

    # --- the JobSource interface (used by RuntimeJob) ----------------------------------------

    def job_record(self, job_id: str) -> JobRecord:
        return self._record(self._request("GET", f"/v1/jobs/{_segment(job_id)}",
                                          params=_INCLUDE))

    def job_messages(self, job_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
        response = self._request("GET", f"/v1/jobs/{_segment(job_id)}/interim",
                                 params={"after": after_seq})
        return [(int(item["seq"]), str(item["data"])) for item in response.json()]

    def cancel_job(self, job_id: str) -> None:
        self._request("POST", f"/v1/jobs/{_segment(job_id)}/cancel")

    def wait_for_job_change(self, job_id: str, timeout: float) -> None:
        self.changed_job_record(job_id, timeout)

    def changed_job_record(self, job_id: str, timeout: float) -> JobRecord | None:
        """The job once it differs from when it was last read here (a long poll), or
        ``None`` if it did not change within ``timeout`` seconds."""
        etag = self._etags.get(job_id)
        if etag is None:
            return self.job_record(job_id)
        response = self._request(
            "GET", f"/v1/jobs/{_segment(job_id)}",
            params={**_INCLUDE, "wait": max(0.0, timeout)},
            headers={"If-None-Match": etag},
            timeout=self.timeout + timeout,
        )
        return None if response.status_code == 304 else self._record(response)

    # --- events ------------------------------------------------------------------------------

    @contextmanager
    def _event_stream(self, job_id: str, after: int) -> Iterator[httpx.Response]:
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
        with self._http.stream("GET", f"/v1/jobs/{_segment(job_id)}/stream",
                               headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_from(response)
            yield response

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempts = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise RemoteError(f"cannot reach the daemon at {self.url}: {exc}") from None
            retry_after = response.headers.get("retry-after")
            if (response.status_code == 429 and retry_after is not None
                    and attempts < self.rate_limit_retries):
                attempts += 1
                time.sleep(_seconds(retry_after))
                continue
            if response.status_code == 304 or response.is_success:
                return response
            raise _error_from(response)

    def _record(self, response: httpx.Response) -> JobRecord:
        record = _job_record(response.json())
        etag = response.headers.get("etag")
        if etag:
            self._etags[record.id] = etag
        return record

    # --- reviews and the audit log (one self-contained block: /v1/reviews, /v1/audit) --------

    def reviews(self, status: str | None = "pending_review", limit: int | None = 20,
                skip: int = 0) -> list[ProgramReview]:
        params = {"status": status or "all", "skip": skip}
        items = _paged(self._request, "/v1/reviews", "reviews", params, limit)
        return [ProgramReview(item, self) for item in items]

    def review(self, program_id: str, version: int) -> ProgramReview:
        response = self._request("GET", _review_path(program_id, version))
        return ProgramReview(response.json(), self)

    def approve_version(self, program_id: str, version: int, comment: str = "") -> ProgramReview:
        response = self._request("POST", _review_path(program_id, version) + "/approve",
                                 json={"comment": comment})
        return ProgramReview(response.json(), self)

    def reject_version(self, program_id: str, version: int, comment: str) -> ProgramReview:
        response = self._request("POST", _review_path(program_id, version) + "/reject",
                                 json={"comment": comment})
        return ProgramReview(response.json(), self)

    def audit_log(self, since: datetime | None = None, actor: str | None = None,
                  action: str | None = None, object_id: str | None = None,
                  limit: int | None = 100, skip: int = 0) -> list[AuditRecord]:
        params: dict[str, Any] = {"skip": skip}
        for key, value in (("since", since.isoformat() if since else None), ("actor", actor),
                           ("action", action), ("object", object_id)):
            if value is not None:
                params[key] = value
        items = _paged(self._request, "/v1/audit", "entries", params, limit)
        return [_audit_record(item) for item in items]


def _review_path(program_id: str, version: int) -> str:
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"version must be an integer, got {version!r}")
    return f"/v1/reviews/{_segment(program_id)}/{version}"


def _paged(request: Callable[..., httpx.Response], path: str, key: str,
           params: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    """Every item of a paged listing up to ``limit`` (``None``: all), a page at a time."""
    items: list[dict[str, Any]] = []
    skip = int(params.get("skip", 0))
    while limit is None or len(items) < limit:
        page = _PAGE if limit is None else min(_PAGE, limit - len(items))
        got = request("GET", path, params={**params, "skip": skip, "limit": page}).json()[key]
        items.extend(got)
        skip += len(got)
        if len(got) < page or not got:
            break
    return items


def _audit_record(item: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=int(item["seq"]), at=datetime.fromisoformat(item["at"]), actor=item["actor"],
        action=item["action"], object=item["object"], details=dict(item.get("details") or {}),
        origin=item["origin"], client=item.get("client"), request_id=item.get("request_id"),
        prev_hash=item["prev_hash"], hash=item["hash"])


class RemoteRuntimeJob(RuntimeJob):
    """A :class:`RuntimeJob` of a daemon: interim results stream as server-sent events.

    A job from a listing carries no result and logs; it fetches them on first use.
    """

    def __init__(self, source: RemoteRuntimeService, record: JobRecord,
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
        retry = 1.0
        last_contact = time.monotonic()
        while not self._stop_streaming.is_set():
            try:
                with self._remote._event_stream(self.job_id(), after) as response:
                    self._response = response
                    last_contact = time.monotonic()
                    for event in _sse_events(response.iter_lines()):
                        last_contact = time.monotonic()
                        if self._stop_streaming.is_set():
                            return
                        if event.retry is not None:
                            retry = event.retry / 1000
                        if event.name == "interim" and event.id is not None:
                            seq = int(event.id)
                            if seq <= after:
                                continue  # delivered before a reconnection
                            if seq > after + 1:  # never skip one, whatever the stream did
                                for missed, data in self._remote.job_messages(self.job_id(),
                                                                              after):
                                    if missed >= seq:
                                        break
                                    after = missed
                                    yield data
                            after = seq
                            yield event.data
                        elif event.name == "final":
                            return
                        elif event.name == "gone":
                            raise JobNotFound(f"job {self.job_id()!r} not found")
            except (httpx.TransportError, httpx.StreamError):
                pass  # dropped: reconnect after the server's retry delay
            except Exception:
                if not self._stop_streaming.is_set():
                    raise
                return  # the stream was closed under the reader by cancel_result_streaming
            finally:
                self._response = None
            if self._stop_streaming.is_set():
                return
            if time.monotonic() - last_contact > self._remote.reconnect_seconds:
                raise RemoteError(
                    f"the event stream of job {self.job_id()} is lost: no answer from "
                    f"{self._remote.url} for {self._remote.reconnect_seconds:g} s"
                )
            self._stop_streaming.wait(retry)


# --- server-sent events ----------------------------------------------------------------------


@dataclass
class _Event:
    name: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


def _sse_events(lines: Iterator[str]) -> Iterator[_Event]:
    """Parse a ``text/event-stream`` into events (comments and unknown fields ignored).

    A block with only a ``retry`` field comes out as an event named ``retry``.
    """
    event, data, dispatch = _Event(), [], False
    for line in lines:
        if not line:
            if dispatch:
                event.data = "\n".join(data)
                yield event
            elif event.retry is not None:
                yield _Event(name="retry", retry=event.retry)
            event, data, dispatch = _Event(), [], False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event.name = value
        elif name == "data":
            data.append(value)
            dispatch = True
        elif name == "id" and "\x00" not in value:
            event.id = value
        elif name == "retry" and value.isdigit():
            event.retry = int(value)


# --- decoding answers ----------------------------------------------------------------------


def _error_from(response: httpx.Response) -> Exception:
    """The exception a problem document describes: the engine's class, or ``ValueError``
    where the embedded service raises one (an invalid argument value)."""
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    status = response.status_code
    detail = str(problem.get("detail") or response.text[:500] or response.reason_phrase)
    if problem.get("type") == _INVALID_VALUE and status == 422:
        return ValueError(detail)
    name = problem.get("error")
    cls = _ERROR_CLASSES.get(name) if isinstance(name, str) else None
    if status == 401:
        cls = AuthenticationError
    if cls is None or (cls is EngineError and status >= 500):
        cls = RemoteError
    exc = cls.__new__(cls)
    Exception.__init__(exc, detail)
    _restore_details(exc, problem, status)
    return exc


def _restore_details(exc: EngineError, problem: dict[str, Any], status: int) -> None:
    fields = [(str(f.get("loc", "")), str(f.get("msg", ""))) for f in problem.get("fields") or []
              if isinstance(f, dict)]
    if isinstance(exc, RemoteError):
        exc.status, exc.problem = status, problem
    if isinstance(exc, errors.MetadataError):
        exc.problems = fields
    elif isinstance(exc, errors.InputValidationError):
        exc.violations = fields
    elif isinstance(exc, errors.ProgramError):
        exc.filename, exc.line = problem.get("file"), problem.get("line")
    elif isinstance(exc, errors.ProgramRejected):
        exc.report = _report(problem.get("report") or {})
    elif isinstance(exc, errors.BackendRejected):
        exc.limit = problem.get("limit")
    elif isinstance(exc, errors.ProgramNotApproved):
        exc._restore(problem, status)
    elif isinstance(exc, (errors.RuntimeJobFailure, errors.RuntimeJobCancelled)):
        exc.reason = problem.get("reason")
        if isinstance(exc, errors.RuntimeJobFailure):
            exc.error = None


def _report(data: dict[str, Any]) -> Any:
    """A scan :class:`~engine.scan.report.Report` from its ``to_dict()`` form."""
    from engine.scan.findings import Finding, Level
    from engine.scan.report import Report

    findings = []
    for file in data.get("files") or []:
        for item in file.get("findings") or []:
            findings.append(Finding(
                rule_id=str(item.get("rule_id", "")),
                rule_name=str(item.get("rule_name", "")),
                severity=Level.parse(item.get("severity", "low")),
                confidence=Level.parse(item.get("confidence", "low")),
                message=str(item.get("message", "")),
                file=str(item.get("file", file.get("file", ""))),
                line=int(item.get("line") or 0),
                column=int(item.get("column") or 0),
                source_line=str(item.get("source_line", "")),
                cwe=item.get("cwe"),
                origin=item.get("origin", "engine"),
            ))
    policy = data.get("policy") or {}
    return Report(
        files=tuple(str(f.get("file", "")) for f in data.get("files") or []),
        findings=tuple(findings),
        mode=policy.get("mode", "reject"),
        severity_threshold=Level.parse(policy.get("severity_threshold", "medium")),
        confidence_threshold=Level.parse(policy.get("confidence_threshold", "low")),
        tool=dict(data.get("tool") or {}),
    )


def _program(item: dict[str, Any]) -> RuntimeProgram:
    """A :class:`RuntimeProgram` from the daemon's program document."""
    spec = {key: item[key] for key in ("parameters", "return_values", "interim_results",
                                       "backend_requirements") if item.get(key)}
    metadata = {"name": item["name"], "description": item.get("description", ""),
                "max_execution_time": item.get("max_execution_time", 0), "spec": spec}
    created = datetime.fromisoformat(item["creation_date"])
    version = int(item["version"])
    return RuntimeProgram.from_record(ProgramRecord(
        id=item["id"],
        name=item["name"],
        owner=item["owner"],
        is_public=bool(item["is_public"]),
        created_at=created,
        updated_at=datetime.fromisoformat(item["update_date"]),
        current_version=version,
        version=ProgramVersionRecord(
            program_id=item["id"], version=version, metadata_json=json.dumps(metadata),
            source_hash="", entry="", created_at=created,
            review_status=item.get("review_status", "approved")),
    ))


def _job_record(item: dict[str, Any]) -> JobRecord:
    error = item.get("error") or {}
    return JobRecord(
        id=item["id"],
        program_id=item["program_id"],
        program_version=int(item["program_version"]),
        owner=item["owner"],
        status=JobStatus(item["status"]),
        reason=item.get("reason"),
        backend=item["backend"],
        profile=item.get("profile"),
        inputs=item.get("inputs") or "{}",
        options=item.get("options") or {},
        created_at=datetime.fromisoformat(item["created_at"]),
        started_at=_time(item.get("started_at")),
        ended_at=_time(item.get("ended_at")),
        result=item.get("result"),
        error_type=error.get("type"),
        error_message=error.get("message"),
        error_traceback=error.get("traceback"),
        logs=item.get("logs") or "",
        metrics=item.get("metrics") or {},
        cancel_requested=bool(item.get("cancel_requested")),
        claimed_by=None,
        heartbeat_at=None,
        message_count=int(item.get("message_count") or 0),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _seconds(retry_after: str) -> float:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return 1.0


def _segment(identifier: str) -> str:
    """An id as one URL path segment, whatever it holds (an odd one is simply not found)."""
    return quote(str(identifier), safe="") or "%20"


# --- what an upload sends ------------------------------------------------------------------


def _program_parts(data: Any, metadata: Any, *, required: bool
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """The multipart ``files`` and form fields of an upload of ``data`` with ``metadata``."""
    from engine.loader import looks_like_path

    files: dict[str, Any] = {}
    if looks_like_path(data):
        path = Path(str(data).strip()).expanduser()
        if path.is_dir():
            files["file"] = (f"{path.name}.tar.gz", _pack_folder(path), "application/gzip")
        elif path.is_file():
            files["file"] = (path.name, path.read_bytes(), "text/x-python")
            beside = path.with_suffix(".json")
            if metadata is None and beside.is_file():
                metadata = beside
        elif not path.exists():
            raise ProgramError("no such file or folder", str(path))
        else:
            raise ProgramError("a program is a NAME.py file or a folder", str(path))
    elif isinstance(data, (str, bytes, bytearray)):
        text = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        files["source"] = ("source.py", text, "text/x-python")
    elif data is not None or required:
        raise EngineError(
            f"data must be a path or the program's source text, not {type(data).__name__}"
        )
    form: dict[str, str] = {}
    if metadata is not None:
        form["metadata"] = json.dumps(_metadata_object(metadata))
    return files, form


def _metadata_object(metadata: Any) -> dict[str, Any]:
    """Metadata given as a dict, JSON text, bytes, a path or a ProgramMetadata, as a dict."""
    from engine.metadata import ProgramMetadata

    if isinstance(metadata, ProgramMetadata):
        return metadata.to_dict()
    if isinstance(metadata, Mapping):
        return dict(metadata)
    if isinstance(metadata, (bytes, bytearray)):
        text = bytes(metadata).decode("utf-8")
    elif isinstance(metadata, os.PathLike) or (
        isinstance(metadata, str) and not metadata.lstrip().startswith(("{", "["))
    ):
        from engine.metadata import load_metadata

        return load_metadata(metadata).to_dict()  # reads and checks the local file
    elif isinstance(metadata, str):
        text = metadata
    else:
        raise errors.MetadataError(
            f"metadata must be a mapping, JSON text or a file path, not "
            f"{type(metadata).__name__}"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.MetadataError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise errors.MetadataError("metadata must be a JSON object")
    return value


def _pack_folder(folder: Path) -> bytes:
    """``folder`` as an in-memory ``.tar.gz`` of regular files under the folder's name.

    Symlinks are followed to regular files inside the folder (as the loader does); the
    loader's ignored names (``__pycache__``, ``.git``, ...) are left out.
    """
    from engine.loader import program_policy

    ignored = program_policy().ignored_names
    root = folder.resolve()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for current, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in ignored
                                 and not (Path(current) / d).is_symlink())
            for filename in sorted(filenames):
                if filename in ignored:
                    continue
                path = Path(current) / filename
                real = path.resolve()
                if not real.is_file() or root not in real.parents:
                    raise ProgramError("only regular files inside the program folder can be "
                                       "uploaded", str(path))
                relative = path.relative_to(folder).as_posix()
                info = tarfile.TarInfo(f"{folder.name}/{relative}")
                content = real.read_bytes()
                info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()

