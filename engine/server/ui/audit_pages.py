"""``/ui/audit``: the audit log for admins, with filters, and whether its hash chain holds.

Entries come from the service's ``audit_log`` (which refuses anyone but an admin, so the page
answers 403 as ``GET /v1/audit`` does); the chain is verified as ``program-engine audit
verify`` verifies it, on the daemon's store, each time the page is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from engine import errors
from engine.audit import Action
from engine.server.ui.access import CurrentViewer, PageRoute
from engine.server.ui.render import render

router = APIRouter(prefix="/ui/audit", route_class=PageRoute, include_in_schema=False)


def _since(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.InputValidationError(
            [("since", "must be an ISO 8601 time with a time zone, e.g. "
                       "2026-01-31T12:00:00+00:00")], what="filters") from None
    if value.tzinfo is None:
        raise errors.InputValidationError([("since", "must carry a time zone")], what="filters")
    return value


@router.get("")
def audit_page(request: Request, viewer: CurrentViewer,
               since: Annotated[str, Query(max_length=64)] = "",
               actor: Annotated[str, Query(max_length=200)] = "",
               action: Annotated[str, Query(max_length=64)] = "",
               object: Annotated[str, Query(max_length=500)] = "",
               page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    """Entries matching every filter given, oldest first, and the chain's state."""
    size = request.app.state.ui_policy.page_size
    entries = viewer.service.audit_log(
        since=_since(since), actor=actor or None, action=action or None,
        object_id=object or None, limit=size + 1, skip=(page - 1) * size)
    checked, broken = request.app.state.service.audit_chain.verify()
    return render(request, "audit.html", {
        "entries": [entry.to_dict() for entry in entries[:size]], "more": len(entries) > size,
        "page": page, "since": since, "actor": actor, "action": action, "object": object,
        "actions": [a.value for a in Action], "checked": checked,
        "broken": str(broken) if broken is not None else None})
