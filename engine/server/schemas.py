"""What crosses the HTTP boundary: request bodies (validated) and response documents.

Responses are built from the service's own objects (:class:`RuntimeProgram`, the store's
:class:`JobRecord`) by :func:`program_json` and :func:`job_json`; the models here describe
them for the OpenAPI document and validate what clients send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.records import JobRecord, JobStatus
from engine.runtime_program import RuntimeProgram


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ------------------------------------------------------------------------------


class ProgramPatch(_Strict):
    """A new version from changed metadata fields; the source stays as it is."""

    metadata: dict[str, Any] | None = Field(
        default=None, description="Whole new metadata (the fields below then apply on top)."
    )
    name: str | None = None
    description: str | None = None
    max_execution_time: int | float | None = None
    spec: dict[str, Any] | None = None


class VisibilityChange(_Strict):
    public: bool = Field(description="True: everyone may see and run the program.")


class RunRequest(_Strict):
    """A job to queue."""

    program_id: str = Field(min_length=1, max_length=128)
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="The inputs as RuntimeEncoder writes them (json.dumps(inputs, "
        "cls=RuntimeEncoder)), so that arrays, circuits and other types survive.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="backend (or backend_name), profile, log_level."
    )


# --- responses -----------------------------------------------------------------------------


class ProblemOut(BaseModel):
    """An RFC 7807 problem document (extension members vary by type)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class ProgramOut(BaseModel):
    id: str
    name: str
    description: str
    max_execution_time: float
    version: int
    review_status: str = "approved"
    owner: str
    is_public: bool
    creation_date: datetime
    update_date: datetime
    backend_requirements: dict[str, Any]
    parameters: dict[str, Any]
    return_values: dict[str, Any]
    interim_results: dict[str, Any]


class ProgramList(BaseModel):
    programs: list[ProgramOut]


class JobErrorOut(BaseModel):
    type: str | None
    message: str | None
    traceback: str | None


class JobOut(BaseModel):
    id: str
    program_id: str
    program_version: int
    owner: str
    status: JobStatus
    reason: str | None
    backend: str
    profile: str | None
    inputs: str = Field(description="The inputs as RuntimeEncoder wrote them (JSON text).")
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: JobErrorOut | None
    metrics: dict[str, Any]
    cancel_requested: bool
    message_count: int = Field(description="Interim messages so far (the last one's seq).")
    result: str | None = Field(
        default=None, description="With include=result, once DONE: the encoded result text."
    )
    logs: str | None = Field(default=None, description="With include=logs, once final.")


class JobList(BaseModel):
    jobs: list[JobOut]


class InterimOut(BaseModel):
    seq: int
    data: str = Field(description="The message as RuntimeEncoder wrote it (JSON text).")


class BackendList(BaseModel):
    backends: list[str]


class WhoAmI(BaseModel):
    name: str
    is_admin: bool


# --- documents from the service's objects --------------------------------------------------


def program_json(program: RuntimeProgram) -> dict[str, Any]:
    """A program as the API shows it."""
    return program.to_dict()


def job_json(record: JobRecord, include: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A job as the API shows it; ``include`` adds ``result`` and ``logs`` once it is final."""
    error = None
    if record.status in (JobStatus.ERROR, JobStatus.CANCELLED) and (
        record.error_type or record.error_message or record.error_traceback
    ):
        error = {"type": record.error_type, "message": record.error_message,
                 "traceback": record.error_traceback}
    document: dict[str, Any] = {
        "id": record.id,
        "program_id": record.program_id,
        "program_version": record.program_version,
        "owner": record.owner,
        "status": record.status.value,
        "reason": record.reason,
        "backend": record.backend,
        "profile": record.profile,
        "inputs": record.inputs,
        "options": record.options,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
        "error": error,
        "metrics": record.metrics,
        "cancel_requested": record.cancel_requested,
        "message_count": record.message_count,
    }
    if record.is_final:
        if "result" in include:
            document["result"] = record.result
        if "logs" in include:
            document["logs"] = record.logs
    return document


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def job_etag(record: JobRecord) -> str:
    """A weak validator of what a waiting client cares about: status and message count."""
    return f'W/"{record.status.value}.{record.message_count}"'
