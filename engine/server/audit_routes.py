"""``GET /v1/audit``: the audit log, for admins, filtered and paged.

Reading it is the embedded service's ``audit_log`` acting as the caller (which refuses
anyone but an admin). Verifying the chain is ``program-engine audit verify`` on the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from engine.server.auth import Service
from engine.server.problems import openapi_responses

router = APIRouter(
    prefix="/v1/audit",
    tags=["audit"],
    responses=openapi_responses(401, 403, 422, 429),
)


@router.get("")
def list_audit(
    request: Request,
    service: Service,
    since: Annotated[datetime | None, Query(description="ISO 8601 with a time zone.")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object: Annotated[str | None, Query(max_length=500, description="A program, job or "
                                        "user id.")] = None,
    limit: Annotated[int, Query(ge=0)] = 100,
    skip: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Audit entries matching every filter given, oldest first."""
    if since is not None and since.tzinfo is None:
        from engine.errors import InputValidationError

        raise InputValidationError([("since", "must carry a time zone")], what="query")
    limit = min(limit, request.app.state.policy.max_page_size)
    entries = service.audit_log(since=since, actor=actor, action=action, object_id=object,
                                limit=limit, skip=skip)
    return {"entries": [entry.to_dict() for entry in entries], "skip": skip, "limit": limit}
