"""Every error as RFC 7807 ``application/problem+json``.

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
from starlette.types import Send

from engine import errors
from engine.server.archives import ArchiveRejected

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:program-engine:problem:"
AUTH_CHALLENGE = 'Bearer realm="program-engine"'

# The first row whose class the exception is an instance of decides; subclasses come first.
_KINDS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (errors.AuthenticationError, 401, "unauthenticated", "Authentication required"),
    (errors.ProgramNotFound, 404, "program-not-found", "Program not found"),
    (errors.JobNotFound, 404, "job-not-found", "Job not found"),
    (errors.ReviewNotFound, 404, "review-not-found", "Review not found"),
    (errors.NotFound, 404, "not-found", "Not found"),
    (errors.PermissionDenied, 403, "permission-denied", "Only the owner may do this"),
    (errors.QuotaExceeded, 429, "quota-exceeded", "Limit reached"),
    (errors.InvalidJobState, 409, "invalid-job-state", "Not possible in the job's state"),
    (errors.DuplicateProgram, 409, "duplicate-program", "Program name already used"),
    (errors.ProgramNotApproved, 409, "program-not-approved", "Program not approved"),
    (errors.InvalidReviewState, 409, "review-not-pending", "Not waiting for review"),
    (errors.ProgramRejected, 422, "program-rejected", "Program rejected by the static review"),
    (ArchiveRejected, 422, "archive-rejected", "Archive refused"),
    (errors.MetadataError, 422, "invalid-metadata", "Invalid program metadata"),
    (errors.InputValidationError, 422, "invalid-inputs", "Invalid inputs"),
    (errors.ProgramError, 422, "invalid-program", "Unusable program source"),
    (errors.SerializationError, 422, "invalid-encoding", "Value cannot be encoded or decoded"),
    (errors.BackendError, 422, "backend-unsuitable", "Backend unknown or unsuitable"),
    (errors.SandboxUnavailable, 503, "sandbox-unavailable", "Sandbox unavailable"),
    (errors.SandboxError, 500, "sandbox-error", "Sandbox failure"),
    (errors.ConfigurationError, 500, "configuration-error", "Server misconfigured"),
    (errors.RuntimeJobTimeout, 408, "timeout", "Timed out"),
    (errors.EngineError, 400, "refused", "Request refused"),
    (ValueError, 422, "invalid-value", "Invalid value"),
)


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
        return {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
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


def engine_class_name(exc: BaseException) -> str | None:
    """The nearest class of ``exc`` defined in :mod:`engine.errors` (what the client raises)."""
    for cls in type(exc).__mro__:
        if cls.__module__ == errors.__name__:
            return cls.__name__
    return None


def problem_for(exc: BaseException) -> Problem:
    """The problem document describing ``exc``."""
    kind = next((row for row in _KINDS if isinstance(exc, row[0])), None)
    if kind is None:
        return internal_error()
    _cls, status, slug, title = kind
    problem = Problem(status, slug, title, str(exc))
    if isinstance(exc, errors.RemoteError) and exc.status:
        problem.status = exc.status
    name = engine_class_name(exc)
    if name is not None:
        problem.extra["error"] = name
    _add_details(problem, exc)
    return problem


def _add_details(problem: Problem, exc: BaseException) -> None:
    extra = problem.extra
    if isinstance(exc, errors.AuthenticationError):
        problem.headers["WWW-Authenticate"] = AUTH_CHALLENGE
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        problem.headers["Retry-After"] = str(retry_after)
        extra["retry_after"] = retry_after
    if isinstance(exc, errors.MetadataError):
        extra["fields"] = [{"loc": loc, "msg": msg} for loc, msg in exc.problems]
    elif isinstance(exc, errors.InputValidationError):
        extra["fields"] = [{"loc": loc, "msg": msg} for loc, msg in exc.violations]
    elif isinstance(exc, ArchiveRejected):
        extra.update(rule=exc.rule, member=exc.member)
    elif isinstance(exc, errors.ProgramError):
        extra.update(file=exc.filename, line=exc.line)
    elif isinstance(exc, errors.ProgramRejected):
        extra["report"] = exc.report.to_dict()
    elif isinstance(exc, errors.BackendRejected):
        extra["limit"] = exc.limit
    elif isinstance(exc, errors.ProgramNotApproved):
        extra.update(exc.problem_details())


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


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""

    async def on_engine_error(request: Request, exc: Exception) -> Response:
        problem = problem_for(exc)
        if problem.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return problem.response()

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc).response()

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        own = getattr(exc, "problem", None)
        if isinstance(own, Problem):
            return own.response()
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        return http_problem(exc.status_code, detail, exc.headers).response()

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
