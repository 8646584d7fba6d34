"""``/ui/jobs``: the jobs list (refreshed live), a job's page, its event stream, its result
as a download, and its cancel button.

Each handler is the service's own call, acting as the viewer: ``jobs``, ``job_record``,
``job_messages``, ``cancel_job``. The job page's interim values and chart follow the same
event stream as ``GET /v1/jobs/{id}/stream`` (:mod:`engine.server.streams`), opened with
the session cookie instead of a bearer token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Request
from starlette.responses import RedirectResponse, Response

from engine import errors
from engine.records import JobRecord, JobStatus
from engine.server.auth import principal_of
from engine.server.schemas import job_json
from engine.server.streams import job_record, open_job_stream, resume_point
from engine.server.ui.access import CurrentViewer, PageRoute, Viewer, check_csrf, sessions
from engine.server.ui.render import cut, render

router = APIRouter(prefix="/ui/jobs", route_class=PageRoute, include_in_schema=False)

STATUSES = [status.value for status in JobStatus]


def _status_filter(status: str | None) -> str | None:
    if not status:
        return None
    if status.upper() not in JobStatus.__members__:
        raise errors.InputValidationError(
            [("status", f"must be one of {', '.join(STATUSES)}")], what="filters")
    return status.upper()


def _row(record: JobRecord) -> dict[str, Any]:
    duration = None
    if record.started_at is not None:
        end = record.ended_at
        if end is not None:
            duration = (end - record.started_at).total_seconds()
    return {"id": record.id, "program_id": record.program_id, "owner": record.owner,
            "status": record.status.value, "reason": record.reason,
            "created_at": record.created_at, "duration": duration,
            "messages": record.message_count}


@router.get("")
def jobs_page(request: Request, viewer: CurrentViewer, status: str | None = None,
              program_id: Annotated[str | None, Query(max_length=200)] = None,
              page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
              partial: str | None = None) -> Response:
    """The viewer's jobs (everyone's for an admin), newest first, by status."""
    size = request.app.state.ui_policy.page_size
    wanted = _status_filter(status)
    jobs = viewer.service.jobs(program_id=program_id or None, status=wanted, limit=size + 1,
                               skip=(page - 1) * size)
    rows = [_row(job._record) for job in jobs[:size]]
    context = {"rows": rows, "status": wanted or "", "statuses": STATUSES, "page": page,
               "more": len(jobs) > size, "program_id": program_id or "",
               "refresh": request.app.state.ui_policy.jobs_refresh_seconds}
    template = "_job_rows.html" if partial == "rows" else "jobs.html"
    return render(request, template, context)


def job_context(request: Request, viewer: Viewer, job_id: str) -> dict[str, Any]:
    """What a job's page shows (raises ``JobNotFound`` as the API does)."""
    policy = request.app.state.ui_policy
    record = viewer.service.job_record(job_id)
    document = job_json(record, frozenset({"logs"}))
    first = max(0, record.message_count - policy.interim_shown)
    messages = viewer.service.job_messages(job_id, first) if policy.interim_shown else []
    result_text = None
    if record.status is JobStatus.DONE and record.result is not None:
        result_text = record.result
        if len(result_text) <= policy.result_chars_shown:
            result_text = json.dumps(json.loads(result_text), indent=2, ensure_ascii=False)
        result_text = cut(result_text, policy.result_chars_shown)
    return {
        "job": document,
        "row": _row(record),
        "final": record.is_final,
        "logs": cut(document["logs"] or "", policy.logs_chars_shown),
        "interim": [(seq, cut(data, policy.value_chars_shown)) for seq, data in messages],
        "interim_skipped": first,
        "result_text": result_text,
        "can_cancel": not record.is_final and (viewer.is_admin or record.owner == viewer.name),
        "error": None,
    }


@router.get("/{job_id}")
def job_page(request: Request, viewer: CurrentViewer, job_id: str) -> Response:
    """A job: state, live interim values and chart, logs, metrics, result, cancel."""
    return render(request, "job.html", job_context(request, viewer, job_id))


@router.post("/{job_id}/cancel")
def cancel(request: Request, viewer: CurrentViewer, job_id: str,
           csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Cancel the job, then show its page (with the refusal beside the button, if any)."""
    check_csrf(request, csrf, viewer.csrf)
    try:
        viewer.service.cancel_job(job_id)
    except (errors.InvalidJobState, errors.PermissionDenied) as exc:
        context = job_context(request, viewer, job_id)
        context["error"] = str(exc)
        return render(request, "job.html", context, status=exc.http_status)
    return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)


@router.get("/{job_id}/result.json")
def result_download(viewer: CurrentViewer, job_id: str) -> Response:
    """The result as ``RuntimeEncoder`` wrote it, as a file (404 until the job is DONE)."""
    record = viewer.service.job_record(job_id)
    if record.status is not JobStatus.DONE or record.result is None:
        raise errors.NotFound(f"job {job_id!r} has no result ({record.status.value})")
    safe_id = "".join(c for c in job_id if c.isalnum() or c in "-_")[:100] or "job"
    return Response(record.result, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{safe_id}-result.json"'})


@router.get("/{job_id}/events")
async def events(request: Request, viewer: CurrentViewer, job_id: str,
                 last_event_id: Annotated[int | None, Query(ge=0)] = None,
                 last_event_id_header: Annotated[str | None,
                                                 Header(alias="Last-Event-ID")] = None,
                 ) -> Response:
    """The job's event stream (``GET /v1/jobs/{id}/stream``), for the page's script."""
    after = resume_point(last_event_id, last_event_id_header)
    await job_record(viewer.service, job_id)  # 404 before the stream starts
    state = request.app.state
    session = viewer.session

    def recheck() -> Any:
        if sessions(request).get(session.id) is None:
            raise errors.AuthenticationError("the session has ended")
        principal = principal_of(state, session.token)
        return state.service.as_user(principal.name, is_admin=principal.is_admin)

    return open_job_stream(state, viewer.service, job_id, after, recheck,
                           recheck_key=("session", session.id))
