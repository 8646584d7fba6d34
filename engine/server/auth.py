"""Who is asking: bearer-token authentication and the per-request service view.

``Authorization: Bearer <token>`` is required on every ``/v1`` route. The token's SHA-256 is
looked up among the valid (neither revoked nor expired) tokens; a missing, malformed,
unknown, revoked or expired token is 401 with a ``WWW-Authenticate`` challenge, and the
message never says which of those it was beyond "missing" and "not valid" (the audit log
does, for admins). The user's request rate is then checked (429). The route gets
``service.as_user(name, is_admin=...)``: the embedded service acting as that user, so every
visibility and ownership rule is the service's own.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.audit import AuditOrigin, OriginKind
from engine.errors import AuthenticationError
from engine.service import RuntimeService


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user."""

    name: str
    is_admin: bool
    is_reviewer: bool = False


#: What a client's ``X-Request-ID`` may look like to be kept (otherwise one is made up).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_origin(request: Request) -> AuditOrigin:
    """Where a request came from, for the audit log: client address and request id.

    The id is the client's ``X-Request-ID`` when it is well-formed, otherwise a fresh one;
    it is kept on the request so every entry of one request names the same id.
    """
    request_id = getattr(request.state, "request_id", None)
    if request_id is None:
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.state.request_id = request_id
    client = request.client.host if request.client is not None else None
    return AuditOrigin(OriginKind.HTTP, client, request_id)


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
    state = request.app.state
    if token is None:
        request.state.auth_refusal = "missing"
        state.service.accounts.refuse("missing", request_origin(request))
        raise AuthenticationError(
            "missing bearer token: send the header 'Authorization: Bearer <token>' "
            "(tokens come from `program-engine users add NAME`)"
        )
    request.state.auth_refusal = "invalid"
    principal = principal_of(state, token, request_origin(request))
    request.state.auth_refusal = None
    request.state.user = principal.name  # the operator's log names who was refused
    state.rate_limiter.check(principal.name)
    return principal


def principal_of(state: Any, token: str, origin: AuditOrigin | None = None) -> Principal:
    """The user ``token`` belongs to now; :class:`AuthenticationError` if it is not valid.

    Blocking (a store read); a long request re-checks its token with it (event streams).
    A refusal is written to the audit log when ``origin`` says where the request came from.
    """
    user = state.service.accounts.authenticate(token)
    if user is None:
        if origin is not None:
            state.service.accounts.refuse_token(token, origin)
        raise AuthenticationError("the bearer token is not valid (unknown, revoked or expired)")
    return Principal(user.name, user.is_admin, user.is_reviewer)


async def service_view(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> RuntimeService:
    """The daemon's one service, acting as the authenticated user (no I/O: no thread)."""
    service: Any = request.app.state.service
    return service.as_user(principal.name, is_admin=principal.is_admin,
                           is_reviewer=principal.is_reviewer, origin=request_origin(request))


CurrentUser = Annotated[Principal, Depends(authenticate)]
Service = Annotated[RuntimeService, Depends(service_view)]
