"""``/v1/reviews``: the review queue, one version's review, and the decisions on it.

Each route is the embedded service's method of the same name, acting as the caller: who
may see and decide is the service's rule (reviewers and admins decide; nobody decides on
their own upload unless the review policy allows it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from engine.server.auth import Service
from engine.server.problems import openapi_responses

router = APIRouter(
    prefix="/v1/reviews",
    tags=["reviews"],
    responses=openapi_responses(401, 404, 422, 429),
)


class Decision(BaseModel):
    """The body of an approval or a rejection."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=100_000,
                         description="Why; required to reject (the policy bounds its length).")


@router.get("")
def list_reviews(
    request: Request,
    service: Service,
    status: Annotated[str | None, Query(description="pending_review (default), approved, "
                                        "rejected, or all")] = "pending_review",
    limit: Annotated[int, Query(ge=0)] = 20,
    skip: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The review queue (or the versions in another state) the caller may see."""
    limit = min(limit, request.app.state.policy.max_page_size)
    wanted = None if status == "all" else status
    reviews = service.reviews(status=wanted, limit=limit, skip=skip)
    return {"reviews": [review.to_dict() for review in reviews]}


@router.get("/{program_id}/{version}")
def get_review(program_id: str, version: int, service: Service) -> dict[str, Any]:
    """One version's review: findings with source lines, diffs, uploader, time, visibility."""
    return service.review(program_id, version).to_dict()


@router.post("/{program_id}/{version}/approve", responses=openapi_responses(403, 409))
def approve(program_id: str, version: int, body: Decision, service: Service) -> dict[str, Any]:
    """Approve a pending version; jobs of the program then run it."""
    return service.approve_version(program_id, version, body.comment).to_dict()


@router.post("/{program_id}/{version}/reject", responses=openapi_responses(403, 409))
def reject(program_id: str, version: int, body: Decision, service: Service) -> dict[str, Any]:
    """Reject a pending version with a comment saying why."""
    return service.reject_version(program_id, version, body.comment).to_dict()
