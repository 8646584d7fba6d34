"""``RemoteRuntimeService``: the embedded service's methods as requests to a daemon."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from engine.audit import AuditRecord
from engine.client.remote_accounts import RemoteUserAdministration
from engine.client.remote_job import RemoteRuntimeJob
from engine.client.uploads import _metadata_object, _program_parts
from engine.client.wire import _error_from, _job_record, _program, _seconds, _segment
from engine.documents import BackendInfo
from engine.errors import InputValidationError, RemoteError
from engine.interface import RuntimeServiceInterface
from engine.program import ResultDecoder
from engine.records import JobRecord, JobStatus
from engine.reviews import ProgramReview
from engine.runtime_job import RuntimeJob
from engine.runtime_program import RuntimeProgram

_PAGE = 1000


_INCLUDE = {"include": ["result", "logs"]}


class RemoteRuntimeService(RemoteUserAdministration, RuntimeServiceInterface):
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

    def backends(self) -> list[BackendInfo]:
        items = self._request("GET", "/v1/backends").json()["backends"]
        return [BackendInfo.model_validate(item) for item in items]

    # --- the JobSource interface (used by RuntimeJob) ----------------------------------------

    def job_record(self, job_id: str) -> JobRecord:
        return self._record(self._request("GET", f"/v1/jobs/{_segment(job_id)}",
                                          params=_INCLUDE))

    def job_messages(self, job_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
        response = self._request("GET", f"/v1/jobs/{_segment(job_id)}/interim",
                                 params={"after": after_seq})
        return [(int(item["seq"]), json.dumps(item["data"])) for item in response.json()]

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
    def _event_stream(self, job_id: str, after: int,
                      logs_after: int | None = None) -> Iterator[httpx.Response]:
        """The job's event stream after interim message ``after``; with ``logs_after``, also
        what the program prints after that many characters (``event: log``)."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
        params: dict[str, Any] = ({"logs": "false"} if logs_after is None
                                  else {"logs_after": logs_after})
        with self._http.stream("GET", f"/v1/jobs/{_segment(job_id)}/stream",
                               headers=headers, params=params) as response:
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
