"""The daemon's answers as engine objects: problem documents as exceptions, documents as records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from engine import errors
from engine.errors import AuthenticationError, EngineError, RemoteError
from engine.records import JobRecord, JobStatus, ProgramRecord, ProgramVersionRecord
from engine.runtime_program import RuntimeProgram

_INVALID_VALUE = "urn:program-engine:problem:invalid-value"


# The classes a problem's ``error`` member may name: engine errors only, never anything else.
_ERROR_CLASSES: dict[str, type[EngineError]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, EngineError)
}


def _error_from(response: httpx.Response) -> Exception:
    """The exception a problem document describes: the engine's class, or ``ValueError``
    where the embedded service raises one (an invalid argument value)."""
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
    name = problem.get("error")
    cls = _ERROR_CLASSES.get(name) if isinstance(name, str) else None
    if status == 401:
        cls = AuthenticationError
    if cls is None or (cls is EngineError and status >= 500):
        cls = RemoteError
    exc = cls.__new__(cls)
    Exception.__init__(exc, detail)
    _restore_details(exc, problem, status)
    return exc


def _restore_details(exc: EngineError, problem: dict[str, Any], status: int) -> None:
    fields = [(str(f.get("loc", "")), str(f.get("msg", ""))) for f in problem.get("fields") or []
              if isinstance(f, dict)]
    if isinstance(exc, RemoteError):
        exc.status, exc.problem = status, problem
    if isinstance(exc, errors.MetadataError):
        exc.problems = fields
    elif isinstance(exc, errors.InputValidationError):
        exc.violations = fields
    elif isinstance(exc, errors.ProgramError):
        exc.filename, exc.line = problem.get("file"), problem.get("line")
    elif isinstance(exc, errors.ProgramRejected):
        exc.report = _report(problem.get("report") or {})
    elif isinstance(exc, errors.BackendRejected):
        exc.limit = problem.get("limit")
    elif isinstance(exc, (errors.RuntimeJobFailure, errors.RuntimeJobCancelled)):
        exc.reason = problem.get("reason")
        if isinstance(exc, errors.RuntimeJobFailure):
            exc.error = None


def _report(data: dict[str, Any]) -> Any:
    """A scan :class:`~engine.scan.report.Report` from its ``to_dict()`` form."""
    from engine.scan.findings import Finding, Level
    from engine.scan.report import Report

    findings = []
    for file in data.get("files") or []:
        for item in file.get("findings") or []:
            findings.append(Finding(
                rule_id=str(item.get("rule_id", "")),
                rule_name=str(item.get("rule_name", "")),
                severity=Level.parse(item.get("severity", "low")),
                confidence=Level.parse(item.get("confidence", "low")),
                message=str(item.get("message", "")),
                file=str(item.get("file", file.get("file", ""))),
                line=int(item.get("line") or 0),
                column=int(item.get("column") or 0),
                source_line=str(item.get("source_line", "")),
                cwe=item.get("cwe"),
                origin=item.get("origin", "engine"),
            ))
    policy = data.get("policy") or {}
    return Report(
        files=tuple(str(f.get("file", "")) for f in data.get("files") or []),
        findings=tuple(findings),
        mode=policy.get("mode", "reject"),
        severity_threshold=Level.parse(policy.get("severity_threshold", "medium")),
        confidence_threshold=Level.parse(policy.get("confidence_threshold", "low")),
        tool=dict(data.get("tool") or {}),
    )


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
