"""``/v1/jobs``: run programs, follow jobs, read their results, cancel and delete them.

``GET /v1/jobs/{id}`` answers with a weak ``ETag`` (status and message count). With
``If-None-Match`` and ``wait=SECONDS`` it is a long poll: it returns as soon as the job
changes, or 304 after the wait. That is how the remote client waits for a job as quickly as
the embedded one does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from engine.documents import INCLUDABLE, InterimDocument, JobDocument
from engine.errors import InputValidationError
from engine.records import JobStatus
from engine.server.auth import Service, bearer_token, principal_of
from engine.server.problems import Problem, openapi_responses
from engine.server.schemas import JobList, RunRequest, job_etag, job_json
from engine.server.streams import (
    job_record,
    open_job_stream,
    resume_point,
    wait_until_changed,
)

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses=openapi_responses(401, 404, 422, 429),
)



@router.post("", status_code=201, response_model=JobDocument,
             responses=openapi_responses(413, 503))
def run_job(request: Request, response: Response, body: RunRequest,
            service: Service) -> dict[str, Any]:
    """Queue a job: inputs are validated against the program's schema first."""
    job = service.run(body.program_id, body.inputs, body.options)
    response.headers["Location"] = f"/v1/jobs/{job.job_id()}"
    return job_json(_record_of(job))


@router.get("", response_model=JobList)
def list_jobs(
    request: Request,
    service: Service,
    program_id: str | None = None,
    status: Annotated[str | None, Query(description="QUEUED, RUNNING, DONE, ...")] = None,
    limit: Annotated[int, Query(ge=0)] = 10,
    skip: Annotated[int, Query(ge=0)] = 0,
    created_after: Annotated[
        datetime | None, Query(description="ISO 8601 with a time zone.")
    ] = None,
) -> dict[str, Any]:
    """The caller's jobs (everyone's for an admin), newest first."""
    if status is not None and status.upper() not in JobStatus.__members__:
        raise InputValidationError(
            [("status", f"must be one of {', '.join(JobStatus.__members__)}")], what="filters"
        )
    limit = min(limit, request.app.state.policy.max_page_size)
    jobs = service.jobs(program_id=program_id, status=status, limit=limit, skip=skip,
                        created_after=created_after)
    return {"jobs": [job_json(_record_of(job)) for job in jobs]}


@router.get("/{job_id}", response_model=JobDocument,
            responses={304: {"description": "Unchanged"}})
async def get_job(
    request: Request,
    job_id: str,
    service: Service,
    include: Annotated[list[str], Query(
        description="result (once DONE), logs, interim_results")] = [],  # noqa: B006
    wait: Annotated[float, Query(ge=0, description="Long poll: seconds to wait for a change "
                                 "of the job the If-None-Match ETag describes.")] = 0,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Status, reason, metrics and error of a job."""
    unknown = sorted(set(include) - INCLUDABLE)
    if unknown:
        raise InputValidationError(
            [("include", f"unknown value {name!r} (known: {', '.join(sorted(INCLUDABLE))})")
             for name in unknown],
            what="query parameters",
        )
    state = request.app.state
    if if_none_match is not None and wait > 0:
        record = await wait_until_changed(service, job_id, if_none_match, wait, state.policy,
                                          state.draining)
    else:
        record = await job_record(service, job_id)
    etag = job_etag(record)
    if if_none_match is not None and if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    interim = None
    if "interim_results" in include:
        messages = await to_thread.run_sync(service.job_messages, job_id, 0)
        interim = [data for _seq, data in messages]
    return JSONResponse(job_json(record, frozenset(include), interim), headers={"ETag": etag})


@router.get("/{job_id}/result", responses={
    200: {"content": {"application/json": {}}, "description": "The encoded result."},
    **openapi_responses(409)})
def get_result(job_id: str, service: Service) -> Response:
    """The result as RuntimeEncoder wrote it; 409 until the job is DONE."""
    record = service.job_record(job_id)
    if record.status is JobStatus.DONE:
        return Response(record.result if record.result is not None else "null",
                        media_type="application/json")
    if not record.is_final:
        detail = f"job {job_id} is {record.status.value}; its result is not there yet"
        error = "RemoteError"
    else:
        detail = f"job {job_id} ended {record.status.value} ({record.reason}) without a result"
        error = ("RuntimeJobFailure" if record.status is JobStatus.ERROR
                 else "RuntimeJobCancelled")
    return Problem(409, "no-result", "No result", detail,
                   {"error": error, "status_of_job": record.status.value,
                    "reason": record.reason}).response()


@router.get("/{job_id}/interim", response_model=list[InterimDocument])
def get_interim(job_id: str, service: Service,
                after: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    """Interim messages with a sequence number above ``after``, in order (values in
    RuntimeEncoder's wire form)."""
    service.job_record(job_id)  # visibility first
    return [{"seq": seq, "data": json.loads(data)}
            for seq, data in service.job_messages(job_id, after)]


@router.get("/{job_id}/logs", response_class=PlainTextResponse)
def get_logs(job_id: str, service: Service) -> PlainTextResponse:
    """What the program printed (capped by the sandbox)."""
    return PlainTextResponse(service.job_record(job_id).logs)


@router.get("/{job_id}/stream", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."},
    **openapi_responses(503)})
async def stream_job(
    request: Request,
    job_id: str,
    service: Service,
    last_event_id: Annotated[int | None, Query(ge=0, description="Resume after this seq.")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    logs: Annotated[bool, Query(description="Send what the program prints as `event: log`."
                                )] = True,
    logs_after: Annotated[int, Query(ge=0, description="Characters of the logs the client "
                                     "already has.")] = 0,
) -> StreamingResponse:
    """Interim messages and what the program prints as server-sent events, then the final
    state; resumable.

    The stream ends when its token is revoked (``event: unauthorized``) or the job goes out
    of the user's sight (``event: gone``); open streams are capped per user and in all.
    """
    after = resume_point(last_event_id, last_event_id_header)
    await job_record(service, job_id)  # 404 before the stream starts
    state = request.app.state
    token = bearer_token(request) or ""

    def recheck() -> Any:
        principal = principal_of(state, token)
        return state.service.as_user(principal.name, is_admin=principal.is_admin)

    return open_job_stream(state, service, job_id, after, recheck,
                           logs_after if logs else None, ("token", token))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobDocument,
             responses=openapi_responses(403, 409))
def cancel_job(job_id: str, service: Service) -> dict[str, Any]:
    """Cancel: a queued job ends at once, a running one's sandbox is stopped."""
    service.cancel_job(job_id)
    return job_json(service.job_record(job_id))


@router.delete("/{job_id}", status_code=204, responses=openapi_responses(403))
def delete_job(job_id: str, service: Service) -> Response:
    """Delete the job and its results (a running job is cancelled first)."""
    service.delete_job(job_id)
    return Response(status_code=204)


def _record_of(job: Any) -> Any:
    """The record a listed job was built from (the listing query already read it)."""
    return job._record
