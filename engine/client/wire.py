"""The daemon's answers as engine objects: problem documents as exceptions, documents as records."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from engine.documents import JobDocument, ProgramDocument
from engine.errors import EngineError
from engine.records import JobRecord
from engine.runtime_program import RuntimeProgram

_INVALID_VALUE = "urn:program-engine:problem:invalid-value"


def _error_from(response: httpx.Response) -> Exception:
    """The exception a problem document describes (:meth:`EngineError.from_problem`), or
    ``ValueError`` where the embedded service raises one (an invalid argument value)."""
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    status = response.status_code
    detail = str(problem.get("detail") or response.text[:500] or response.reason_phrase)
    if problem.get("type") == _INVALID_VALUE and status == 422:
        return ValueError(detail)
    return EngineError.from_problem({**problem, "detail": detail}, status)


def _program(item: dict[str, Any]) -> RuntimeProgram:
    """A :class:`RuntimeProgram` from the daemon's program document."""
    return RuntimeProgram.from_record(ProgramDocument.model_validate(item).to_record())


def _job_record(item: dict[str, Any]) -> JobRecord:
    """A job's record from the daemon's job document."""
    return JobDocument.model_validate(item).to_record()


def _seconds(retry_after: str) -> float:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return 1.0


def _segment(identifier: str) -> str:
    """An id as one URL path segment, whatever it holds (an odd one is simply not found)."""
    return quote(str(identifier), safe="") or "%20"
