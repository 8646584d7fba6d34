"""``/ui/programs``: the programs a user may see (with a search box), a program's page
(versions, metadata, review state, scan report) and its run form.

Listing and reading are the service's ``programs`` and ``program``; the review state and
scan report are ``review`` of the current version, shown when the review rules let the
viewer see it (the owner, reviewers of a public program, admins). The run form is built
from the parameters schema (:mod:`engine.server.ui.forms`) and posts to ``run``.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from engine import errors
from engine.server.ui.access import CurrentViewer, PageRoute, Viewer, check_csrf
from engine.server.ui.forms import FormField, form_fields, place_violations, read_form
from engine.server.ui.render import render

router = APIRouter(prefix="/ui/programs", route_class=PageRoute, include_in_schema=False)


def _matches(program: Any, words: list[str]) -> bool:
    text = f"{program.program_id}\n{program.name}\n{program.description}".casefold()
    return all(word in text for word in words)


@router.get("")
def programs_page(request: Request, viewer: CurrentViewer,
                  q: Annotated[str, Query(max_length=200)] = "",
                  page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    """Programs the viewer may see, newest first, filtered by every word of ``q``."""
    policy = request.app.state.ui_policy
    size = policy.page_size
    words = q.casefold().split()
    if words:
        found = [p for p in viewer.service.programs(limit=policy.max_programs_searched)
                 if _matches(p, words)]
        shown, more = found[(page - 1) * size: page * size], len(found) > page * size
    else:
        listed = viewer.service.programs(limit=size + 1, skip=(page - 1) * size)
        shown, more = listed[:size], len(listed) > size
    return render(request, "programs.html", {
        "programs": [p.to_dict() for p in shown], "q": q, "page": page, "more": more,
        "searched": policy.max_programs_searched})


def program_context(viewer: Viewer, program_id: str,
                    fields: list[FormField] | None = None) -> dict[str, Any]:
    """What a program's page shows (``ProgramNotFound`` as the API answers it)."""
    program = viewer.service.program(program_id)
    document = program.to_dict()
    try:
        review = viewer.service.review(program_id, program.version).to_dict()
    except errors.ReviewNotFound:
        review = None
    return {
        "program": document,
        "review": review,
        "versions": list(range(program.version, 0, -1)),
        "fields": fields if fields is not None else form_fields(document["parameters"]),
        "backends": [b.name for b in viewer.service.backends()],
        "backend": "",
        "form_errors": [],
    }


@router.get("/{program_id}")
def program_page(request: Request, viewer: CurrentViewer, program_id: str) -> Response:
    """A program: its metadata, versions, review state, scan report and run form."""
    return render(request, "program.html", program_context(viewer, program_id))


@router.post("/{program_id}/run")
async def run(request: Request, viewer: CurrentViewer, program_id: str) -> Response:
    """Run the program with the form's inputs; the form again with each error beside its
    field when the inputs are refused."""
    form = await request.form()
    csrf = form.get("csrf")
    check_csrf(request, csrf if isinstance(csrf, str) else None, viewer.csrf)
    policy = request.app.state.ui_policy
    backend = form.get("backend")
    backend = backend.strip() if isinstance(backend, str) else ""

    def attempt() -> tuple[str | None, dict[str, Any] | None]:
        program = viewer.service.program(program_id)
        fields = form_fields(program.to_dict()["parameters"])
        inputs = read_form(fields, form, policy.max_json_field_chars)
        problems: list[str] = []
        if not any(item.error for item in fields):
            options = {"backend": backend} if backend else {}
            try:
                return viewer.service.run(program_id, inputs, options).job_id(), None
            except errors.InputValidationError as exc:
                problems = place_violations(fields, exc.violations)
            except (errors.ProgramNotApproved, errors.QuotaExceeded, errors.BackendError,
                    errors.MetadataError) as exc:
                problems = [str(exc)]
        context = program_context(viewer, program_id, fields)
        context.update(form_errors=problems, backend=backend)
        return None, context

    job_id, context = await to_thread.run_sync(attempt)
    if job_id is not None:
        return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)
    assert context is not None
    return render(request, "program.html", context, status=422)
