"""What crosses the HTTP boundary: request bodies (validated) and response documents.

Responses are built from the service's own objects (:class:`RuntimeProgram`, the store's
:class:`JobRecord`) by :func:`program_json` and :func:`job_json`; the models here describe
them for the OpenAPI document and validate what clients send.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.documents import BackendInfo, JobDocument, ProgramDocument
from engine.records import JobRecord
from engine.runtime_program import RuntimeProgram
from engine.server.redact import redact_paths


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


class ProgramList(BaseModel):
    programs: list[ProgramDocument]


class JobList(BaseModel):
    jobs: list[JobDocument]


class BackendList(BaseModel):
    backends: list[BackendInfo]


class WhoAmI(BaseModel):
    name: str
    is_admin: bool


# --- documents from the service's objects --------------------------------------------------


def program_json(program: RuntimeProgram) -> dict[str, Any]:
    """A program as the API shows it."""
    return program.to_dict()


def job_json(record: JobRecord, include: frozenset[str] = frozenset(),
             interim: list[str] | None = None) -> dict[str, Any]:
    """A job as the API shows it (:class:`~engine.documents.JobDocument`).

    The error's message and traceback name no server path (the program's own files keep
    their names; see :mod:`engine.server.redact`).
    """
    document = JobDocument.of(record, include, interim).to_json()
    error = document.get("error")
    if isinstance(error, dict):
        for key in ("message", "traceback"):
            if isinstance(error.get(key), str):
                error[key] = redact_paths(error[key])
    return document


def job_etag(record: JobRecord) -> str:
    """A weak validator of what a waiting client cares about: status and message count."""
    return f'W/"{record.status.value}.{record.message_count}"'
