"""``/ui/login`` and ``/ui/logout``: signing in with a token, and out.

The sign-in form carries a CSRF token of its own (a double-submit value: the same random
value in a short-lived ``HttpOnly`` cookie and in the form), so that another site cannot sign
a browser in as someone else. A wrong token gets the form again with an error, and the
refusal is written to the audit log as an API refusal is.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from engine import errors
from engine.server.auth import principal_of, request_origin
from engine.server.ui.access import (
    LOGIN,
    CurrentViewer,
    PageRoute,
    check_csrf,
    clear_session_cookie,
    safe_next,
    sessions,
)
from engine.server.ui.render import render
from engine.server.ui.sessions import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    new_secret,
)

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: How long a sign-in form stays valid (its CSRF cookie's lifetime), in seconds.
_LOGIN_FORM_SECONDS = 3600


def _login_form(request: Request, next_path: str, error: str | None = None,
                status: int = 200) -> Response:
    csrf = new_secret()
    response = render(request, "login.html", {"csrf": csrf, "next": next_path, "error": error},
                      status=status)
    response.set_cookie(LOGIN_COOKIE, csrf, max_age=_LOGIN_FORM_SECONDS, path=COOKIE_PATH,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (or the overview, for a browser already signed in)."""
    if sessions(request).get(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, safe_next(next))


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form(max_length=4096)] = "",
                csrf: Annotated[str, Form(max_length=200)] = "",
                next: Annotated[str, Form(max_length=2000)] = "/ui",
                ) -> Response:
    """Check the token; open a session and go on, or show the form again with the error."""
    check_csrf(request, csrf, request.cookies.get(LOGIN_COOKIE) or "\0")
    state = request.app.state
    token = token.strip()
    limit = state.ui_policy.session.max_token_length
    try:
        if not token:
            raise errors.AuthenticationError("enter a token (program-engine users add NAME "
                                             "prints one)")
        if len(token) > limit:
            raise errors.AuthenticationError(f"a token is at most {limit} characters")
        principal = await to_thread.run_sync(principal_of, state, token,
                                              request_origin(request))
    except errors.AuthenticationError as exc:
        return _login_form(request, safe_next(next), str(exc), status=401)
    session = sessions(request).open(principal.name, token)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.id, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, viewer: CurrentViewer,
           csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session and go to the sign-in form."""
    check_csrf(request, csrf, viewer.csrf)
    sessions(request).close(viewer.session.id)
    response = RedirectResponse(LOGIN, status_code=303)
    clear_session_cookie(response)
    return response
