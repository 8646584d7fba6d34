"""``/v1/users``: the daemon's users and their tokens, managed by admins over HTTP.

Each route is the embedded service's method of the same name acting as the caller, so who
may (admins; everyone else gets 403) and what is audited is the service's rule. A token's
secret appears in one answer only, the one that issues it; listings name tokens by id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from engine.accounts import token_to_dict, user_to_dict
from engine.server.auth import Service
from engine.server.problems import openapi_responses

router = APIRouter(
    prefix="/v1/users",
    tags=["users"],
    responses=openapi_responses(401, 403, 404, 422, 429),
)

_LIFETIME = ("The token's lifetime in seconds (default: policies/accounts.yaml's default, "
             "by default no expiry).")


class NewUser(BaseModel):
    """The body that adds a user."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description="Letters, digits and . _ @ -.")
    is_admin: bool = False
    is_reviewer: bool = False
    expires_in: float | None = Field(default=None, gt=0, description=_LIFETIME)


class NewToken(BaseModel):
    """The body that issues a token."""

    model_config = ConfigDict(extra="forbid")

    expires_in: float | None = Field(default=None, gt=0, description=_LIFETIME)


def _page(request: Request, limit: int) -> int:
    return min(limit, request.app.state.policy.max_page_size)


@router.get("")
def list_users(
    request: Request,
    service: Service,
    limit: Annotated[int, Query(ge=0)] = 100,
    skip: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The users by name, with how many valid tokens each holds."""
    users = service.users(limit=_page(request, limit), skip=skip)
    return {"users": [user_to_dict(user) for user in users]}


@router.post("", status_code=201, responses=openapi_responses(409))
def add_user(body: NewUser, service: Service) -> dict[str, Any]:
    """Add a user; the answer carries their first token, shown this once."""
    return service.add_user(body.name, body.is_admin, body.is_reviewer,
                            body.expires_in).to_dict()


@router.delete("/{name}", responses=openapi_responses(409))
def delete_user(
    name: str,
    service: Service,
    force: Annotated[bool, Query(description="Delete their programs and jobs too.")] = False,
) -> dict[str, Any]:
    """Delete a user with their tokens (409 while they own programs or jobs, unless
    ``force``)."""
    return service.delete_user(name, force).to_dict()


@router.get("/{name}/tokens")
def list_tokens(
    request: Request,
    name: str,
    service: Service,
    limit: Annotated[int, Query(ge=0)] = 100,
    skip: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A user's tokens, newest first, by id (never the secret), with their state."""
    tokens = service.user_tokens(name, limit=_page(request, limit), skip=skip)
    return {"tokens": [token_to_dict(token) for token in tokens]}


@router.post("/{name}/tokens", status_code=201)
def issue_token(name: str, body: NewToken, service: Service) -> dict[str, Any]:
    """Issue another token for a user; the answer carries it, shown this once."""
    return service.issue_token(name, body.expires_in).to_dict()


@router.delete("/{name}/tokens")
def revoke_tokens(name: str, service: Service) -> dict[str, Any]:
    """Revoke every token of a user."""
    return {"user": name, "revoked_tokens": service.revoke_tokens(name)}


@router.delete("/{name}/tokens/{token_id}")
def revoke_token(name: str, token_id: str, service: Service) -> dict[str, Any]:
    """Revoke one token of a user; requests with it get 401 from then on."""
    return token_to_dict(service.revoke_token(name, token_id))
