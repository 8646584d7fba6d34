"""Who is looking: the signed-in viewer of a page, CSRF checks, and pages for errors.

A page's :func:`current_viewer` dependency finds the session from its cookie, checks the
session's token again (as every API request does) and the user's request rate, and gives
the route the service acting as that user (``service.as_user``), so a page shows exactly
what the same user sees through the API. Without a session the browser is sent to the
sign-in page. Routes of :class:`PageRoute` answer engine errors with an HTML page: a
program or job of another user's is "not found", word for word as a missing one is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from engine import errors
from engine.server.auth import Principal, principal_of, request_origin
from engine.server.redact import redact_paths
from engine.server.ui.render import render
from engine.server.ui.sessions import (
    COOKIE_PATH,
    SESSION_COOKIE,
    Session,
    SessionStore,
    same_secret,
)
from engine.service import RuntimeService

LOGIN = "/ui/login"
#: What a sign-in may send the browser back to: a dashboard path, nothing else.
_NEXT = re.compile(r"/ui(/[A-Za-z0-9._~%/?=&+:-]*)?")


class LoginRequired(Exception):
    """No valid session: the browser goes to the sign-in page, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class CsrfRefused(errors.PermissionDenied):
    """A form came without this session's CSRF token, or from another origin."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request, their session and the service acting as them."""

    principal: Principal
    session: Session
    service: RuntimeService

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def is_reviewer(self) -> bool:
        return self.principal.is_reviewer or self.principal.is_admin


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.ui_sessions
    return store


def current_viewer(request: Request) -> Viewer:
    """The viewer of this request; :class:`LoginRequired` without a live session.

    Blocking (a store read to check the token), so FastAPI runs it in a worker thread.
    """
    state = request.app.state
    store = sessions(request)
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired(_here(request))
    try:
        principal = principal_of(state, session.token)
    except errors.AuthenticationError:
        store.close(session.id)  # the token was revoked: so is the session
        raise LoginRequired(_here(request)) from None
    state.rate_limiter.check(principal.name)
    service = state.service.as_user(principal.name, is_admin=principal.is_admin,
                                    is_reviewer=principal.is_reviewer,
                                    origin=request_origin(request))
    viewer = Viewer(principal, session, service)
    request.state.viewer = viewer
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def check_csrf(request: Request, given: str | None, expected: str) -> None:
    """Refuse a form whose CSRF token is not ``expected`` or that came from another origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise CsrfRefused("the form was sent from another site")
    if not same_secret(given, expected):
        raise CsrfRefused("the form's CSRF token is missing or out of date; reload the page "
                          "and send it again")


def safe_next(path: str | None) -> str:
    """``path`` if it is a dashboard path to go back to after sign-in, else the overview."""
    if (path and len(path) <= 2000 and "//" not in path and ".." not in path
            and _NEXT.fullmatch(path)):
        return path
    return "/ui"


def _here(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{LOGIN}?next={quote(safe_next(path), safe='')}", status_code=303)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "error.html", {"title": title, "detail": redact_paths(detail)},
                  status=status)


def page_for_error(request: Request, exc: Exception) -> Response:
    """The page answering ``exc`` raised by a page route (or the redirect to sign in)."""
    if isinstance(exc, LoginRequired):
        response = login_redirect(exc.path)
        clear_session_cookie(response)
        return response
    if isinstance(exc, RequestValidationError):
        listed = "; ".join(f"{'.'.join(str(p) for p in item.get('loc', ()))}: "
                           f"{item.get('msg', 'invalid')}" for item in exc.errors()[:5])
        return error_page(request, 422, "Invalid request", listed)
    assert isinstance(exc, errors.EngineError)
    if isinstance(exc, errors.NotFound):
        return error_page(request, 404, "Not found", str(exc))
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    response = error_page(request, exc.http_status, exc.problem_title, str(exc))
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
        response.headers.update(headers)
    return response


class PageRoute(APIRoute):
    """A route whose engine errors, invalid parameters and missing session become pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (LoginRequired, RequestValidationError, errors.EngineError) as exc:
                return page_for_error(request, exc)

        return page_handler
