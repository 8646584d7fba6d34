"""Who is asking: bearer-token authentication and the per-request service view.

``Authorization: Bearer <token>`` is required on every ``/v1`` route. The token's SHA-256 is
looked up among the valid (unrevoked) tokens; a missing, malformed, unknown or revoked
token is 401 with a ``WWW-Authenticate`` challenge, and the message never says which of
those it was beyond "missing" and "not valid". The user's request rate is then checked
(429). The route gets ``service.as_user(name, is_admin=...)``: the embedded service acting
as that user, so every visibility and ownership rule is the service's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.errors import AuthenticationError
from engine.service import RuntimeService


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user."""

    name: str
    is_admin: bool


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or ``None``."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


#: Declares the bearer scheme in the OpenAPI document (Swagger's Authorize button, generated
#: clients); :func:`authenticate` reads and checks the header itself.
BEARER = HTTPBearer(auto_error=False, description="A token from `program-engine users add`.")


def authenticate(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Principal:
    """The user the request's token belongs to; 401 or 429 otherwise."""
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError(
            "missing bearer token: send the header 'Authorization: Bearer <token>' "
            "(tokens come from `program-engine users add NAME`)"
        )
    state = request.app.state
    user = state.service.accounts.authenticate(token)
    if user is None:
        raise AuthenticationError("the bearer token is not valid (unknown or revoked)")
    state.rate_limiter.check(user.name)
    return Principal(user.name, user.is_admin)


async def service_view(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> RuntimeService:
    """The daemon's one service, acting as the authenticated user (no I/O: no thread)."""
    service: Any = request.app.state.service
    return service.as_user(principal.name, is_admin=principal.is_admin)


CurrentUser = Annotated[Principal, Depends(authenticate)]
Service = Annotated[RuntimeService, Depends(service_view)]
