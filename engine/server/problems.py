"""Every error as RFC 7807 ``application/problem+json``.

An engine error's document is its own (:meth:`engine.errors.EngineError.to_problem`: each
class carries its status, type and details, and the remote client reads the document back
with :meth:`~engine.errors.EngineError.from_problem`); this module adds the HTTP headers,
answers plain invalid values (422) and framework refusals, and hides internal errors.

A problem has ``type`` (``urn:program-engine:problem:<slug>``), ``title`` (the same for every
problem of the type), ``status`` and ``detail`` (this occurrence, naming the field, file or
limit), plus extension members:

``error``
    The class in :mod:`engine.errors` the embedded service raises for the same refusal, so the
    remote client raises exactly that class again.
``fields``
    For validation errors (422): every problem as ``{"loc": "...", "msg": "..."}``.
``report``
    For an upload the static review rejects: the scan report (``Report.to_dict()``).
``rule``, ``member``
    For a refused archive: which rule the member broke.
``file``, ``line``, ``limit``
    Where a program error is, which admission limit refused.

No document names a path of the server: the detail and every extension string pass through
:func:`~engine.server.redact.redact_paths` (an upload's file is named as the client named it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

from engine import errors
from engine.server import operator_log
from engine.server.redact import redact_paths, redact_value

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:program-engine:problem:"
AUTH_CHALLENGE = 'Bearer realm="program-engine"'

# What is not one of the engine's errors but is still answered with a document of its own.
_VALUE_ERROR = (422, "invalid-value", "Invalid value")


@dataclass
class Problem:
    """One problem document."""

    status: int
    slug: str
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The document, with every server path in it rewritten (:mod:`engine.server.redact`)."""
        return {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": redact_paths(self.detail),
            **redact_value(self.extra),
        }

    def body(self) -> bytes:
        return json.dumps(self.to_dict(), default=str).encode("utf-8")

    def response(self) -> Response:
        return Response(self.body(), status_code=self.status, media_type=MEDIA_TYPE,
                        headers=self.headers)

    async def send(self, send: Send) -> None:
        """Send this problem as a whole response on a raw ASGI channel (for middleware)."""
        body = self.body()
        headers = [(b"content-type", MEDIA_TYPE.encode()),
                   (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ProblemRaised(HTTPException):
    """An HTTP refusal that carries its whole problem document, answered as it is."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.status, problem.detail, problem.headers or None)


def problem_for(exc: BaseException) -> Problem:
    """The problem document describing ``exc``: an engine error's own
    (:meth:`~engine.errors.EngineError.to_problem`), an invalid value, or an internal error."""
    if isinstance(exc, errors.EngineError):
        document = exc.to_problem()
        problem = Problem(document.pop("status"), document.pop("type").removeprefix(TYPE_PREFIX),
                          document.pop("title"), document.pop("detail"), document)
    elif isinstance(exc, ValueError):
        problem = Problem(*_VALUE_ERROR, str(exc))
    else:
        return internal_error()
    if isinstance(exc, errors.AuthenticationError):
        problem.headers["WWW-Authenticate"] = AUTH_CHALLENGE
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        problem.headers["Retry-After"] = str(retry_after)
        problem.extra["retry_after"] = retry_after
    return problem


def internal_error() -> Problem:
    return Problem(500, "internal-error", "Internal server error",
                   "the server failed to handle the request; its log has the details")


def http_problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Problem:
    """A problem for a plain HTTP refusal (unknown route, wrong method, ...)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    slug = phrase.lower().replace(" ", "-").replace("'", "")
    problem = Problem(status, slug, phrase, detail, headers=dict(headers or {}))
    if status == 404:
        problem.extra["error"] = "NotFound"
    return problem


def validation_problem(exc: RequestValidationError) -> Problem:
    """422 listing every invalid field, or 400 when the body is not JSON at all."""
    items = list(exc.errors())
    malformed = [item for item in items if item.get("type") == "json_invalid"]
    if malformed:
        context = malformed[0].get("ctx") or {}
        where = ""
        if "error" in context:
            where = f": {context['error']}"
        position = malformed[0].get("loc", ())
        if len(position) > 1:
            where += f" at character {position[-1]}"
        return Problem(400, "malformed-json", "Malformed JSON",
                       f"the request body is not valid JSON{where}", {"error": "EngineError"})
    fields = [{"loc": ".".join(str(part) for part in item.get("loc", ())),
               "msg": str(item.get("msg", "invalid"))} for item in items]
    listed = "; ".join(f"{f['loc']}: {f['msg']}" for f in fields[:5])
    more = f"; and {len(fields) - 5} more" if len(fields) > 5 else ""
    return Problem(422, "invalid-request", "Invalid request",
                   f"{len(fields)} invalid request field(s): {listed}{more}",
                   {"error": "InputValidationError", "fields": fields})


def refusal_logged(scope: Scope, problem: Problem) -> Problem:
    """``problem``, after a line for the operator if it refuses the request (4xx)."""
    extra = problem.extra
    fields = {key: extra[key] for key in ("limit", "rule") if isinstance(extra.get(key), str)}
    if isinstance(extra.get("fields"), list):
        fields["fields"] = ",".join(str(item.get("loc")) for item in extra["fields"][:5]
                                    if isinstance(item, dict))
    operator_log.refused(scope, problem.status, problem.slug, **fields)
    return problem


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""

    async def on_engine_error(request: Request, exc: Exception) -> Response:
        problem = problem_for(exc)
        if problem.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return refusal_logged(request.scope, problem).response()

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return refusal_logged(request.scope, validation_problem(exc)).response()

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        own = getattr(exc, "problem", None)
        if isinstance(own, Problem):
            return refusal_logged(request.scope, own).response()
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        problem = http_problem(exc.status_code, detail, exc.headers)
        return refusal_logged(request.scope, problem).response()

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return internal_error().response()

    app.add_exception_handler(errors.EngineError, on_engine_error)
    app.add_exception_handler(ValueError, on_engine_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def openapi_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses of a route, for the OpenAPI document."""
    from engine.server.schemas import ProblemOut

    return {
        status: {"model": ProblemOut, "content": {MEDIA_TYPE: {}},
                 "description": HTTPStatus(status).phrase}
        for status in statuses
    }
