"""``/ui/reviews``: the review queue, one version's findings and diffs, and the decision.

The service's ``reviews``, ``review``, ``approve_version`` and ``reject_version``, acting as
the viewer: who may see and decide is the service's rule, and a refusal (not a reviewer,
one's own upload, already decided, a rejection without a comment) is shown beside the form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from engine import errors
from engine.records import ReviewStatus
from engine.server.ui.access import CurrentViewer, PageRoute, Viewer, check_csrf
from engine.server.ui.render import render

router = APIRouter(prefix="/ui/reviews", route_class=PageRoute, include_in_schema=False)

STATES = [status.value for status in ReviewStatus]


@router.get("")
def queue_page(request: Request, viewer: CurrentViewer,
               status: Annotated[str, Query(max_length=40)] = "pending_review",
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    """Versions in review state ``status`` (``all``: every state), oldest first."""
    size = request.app.state.ui_policy.page_size
    wanted = None if status == "all" else status
    reviews = viewer.service.reviews(status=wanted, limit=size + 1, skip=(page - 1) * size)
    return render(request, "reviews.html", {
        "reviews": [r.to_dict() for r in reviews[:size]], "status": status,
        "states": [*STATES, "all"], "page": page, "more": len(reviews) > size})


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as ``(kind, line)``: ``add``, ``del``, ``hunk``, ``file`` or ``same``."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def review_context(viewer: Viewer, program_id: str, version: int) -> dict[str, Any]:
    review = viewer.service.review(program_id, version).to_dict()
    return {
        "review": review,
        "diffs": [(path, diff_lines(text)) for path, text in (review.get("diff") or {}).items()],
        "metadata_diff": diff_lines(review.get("metadata_diff") or ""),
        "comment": "",
        "error": None,
    }


@router.get("/{program_id}/{version}")
def review_page(request: Request, viewer: CurrentViewer, program_id: str,
                version: int) -> Response:
    """One version: scan findings with their source lines, diffs, and the decision form."""
    return render(request, "review.html", review_context(viewer, program_id, version))


@router.post("/{program_id}/{version}")
def decide(request: Request, viewer: CurrentViewer, program_id: str, version: int,
           decision: Annotated[str, Form(max_length=20)] = "",
           comment: Annotated[str, Form(max_length=100_000)] = "",
           csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Approve or reject the version with the comment; back to its page."""
    check_csrf(request, csrf, viewer.csrf)
    try:
        if decision == "approve":
            viewer.service.approve_version(program_id, version, comment)
        elif decision == "reject":
            viewer.service.reject_version(program_id, version, comment)
        else:
            raise errors.InputValidationError([("decision", "must be approve or reject")],
                                              what="review")
    except (errors.PermissionDenied, errors.InvalidReviewState,
            errors.InputValidationError) as exc:
        context = review_context(viewer, program_id, version)
        context.update(comment=comment, error=str(exc))
        return render(request, "review.html", context, status=exc.http_status)
    return RedirectResponse(f"/ui/reviews/{program_id}/{version}", status_code=303)
