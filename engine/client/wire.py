"""The daemon's answers as engine objects: problem documents as exceptions, documents as records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from engine.errors import EngineError
from engine.records import JobRecord, JobStatus, ProgramRecord, ProgramVersionRecord
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
    spec = {key: item[key] for key in ("parameters", "return_values", "interim_results",
                                       "backend_requirements") if item.get(key)}
    metadata = {"name": item["name"], "description": item.get("description", ""),
                "max_execution_time": item.get("max_execution_time", 0), "spec": spec}
    created = datetime.fromisoformat(item["creation_date"])
    version = int(item["version"])
    return RuntimeProgram.from_record(ProgramRecord(
        id=item["id"],
        name=item["name"],
        owner=item["owner"],
        is_public=bool(item["is_public"]),
        created_at=created,
        updated_at=datetime.fromisoformat(item["update_date"]),
        current_version=version,
        version=ProgramVersionRecord(
            program_id=item["id"], version=version, metadata_json=json.dumps(metadata),
            source_hash="", entry="", created_at=created),
    ))


def _job_record(item: dict[str, Any]) -> JobRecord:
    error = item.get("error") or {}
    return JobRecord(
        id=item["id"],
        program_id=item["program_id"],
        program_version=int(item["program_version"]),
        owner=item["owner"],
        status=JobStatus(item["status"]),
        reason=item.get("reason"),
        backend=item["backend"],
        profile=item.get("profile"),
        inputs=item.get("inputs") or "{}",
        options=item.get("options") or {},
        created_at=datetime.fromisoformat(item["created_at"]),
        started_at=_time(item.get("started_at")),
        ended_at=_time(item.get("ended_at")),
        result=item.get("result"),
        error_type=error.get("type"),
        error_message=error.get("message"),
        error_traceback=error.get("traceback"),
        logs=item.get("logs") or "",
        metrics=item.get("metrics") or {},
        cancel_requested=bool(item.get("cancel_requested")),
        claimed_by=None,
        heartbeat_at=None,
        message_count=int(item.get("message_count") or 0),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _seconds(retry_after: str) -> float:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return 1.0


def _segment(identifier: str) -> str:
    """An id as one URL path segment, whatever it holds (an odd one is simply not found)."""
    return quote(str(identifier), safe="") or "%20"
