"""A job and a program as JSON documents: the one shape every door shows.

The daemon writes these (``GET /v1/jobs/{id}``, ``/v1/programs``), the remote client reads
them back into records, and the CLI prints the same shape (``run --json``, ``jobs run
--wait --json``, ``jobs result --json``, ``jobs show --json``). Values a program sees or
makes (``inputs``, ``result``, ``interim_results``) are JSON values in ``RuntimeEncoder``'s
wire form, never JSON text inside JSON; decode one with
``json.loads(json.dumps(value), cls=RuntimeDecoder)``.

Every key is always present: ``error`` is ``{"type", "message", "traceback"}`` or ``null``;
``result``, ``logs`` and ``interim_results`` are ``null`` unless asked for (and there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from engine.records import JobRecord, JobStatus, ProgramRecord, ProgramVersionRecord

#: What a job document may carry beyond its state, on request.
INCLUDABLE = frozenset({"result", "logs", "interim_results"})


class JobError(BaseModel):
    """Why a job ended ``ERROR`` or ``CANCELLED``, when there is more to say than its reason."""

    type: str | None
    message: str | None
    traceback: str | None


class JobDocument(BaseModel):
    """A job, as every door shows it (see the module docstring)."""

    id: str
    program_id: str | None
    program_version: int | None
    owner: str
    status: JobStatus
    reason: str | None
    backend: str
    profile: str | None
    inputs: Any = Field(description="The inputs in RuntimeEncoder's wire form.")
    options: dict[str, Any]
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: JobError | None
    metrics: dict[str, Any]
    cancel_requested: bool
    message_count: int = Field(description="Interim messages so far (the last one's seq).")
    result: Any = Field(default=None, description="With include=result, once DONE: the "
                        "result in RuntimeEncoder's wire form.")
    logs: str | None = Field(default=None, description="With include=logs: what it printed.")
    interim_results: list[Any] | None = Field(
        default=None, description="With include=interim_results: every interim result.")

    @classmethod
    def of(cls, record: JobRecord, include: Iterable[str] = (),
           interim: list[str] | None = None) -> JobDocument:
        """The document of a stored job; ``include`` adds ``result`` (once ``DONE``),
        ``logs`` and ``interim_results`` (the encoded messages in ``interim``)."""
        include = frozenset(include)
        error = None
        if record.status in (JobStatus.ERROR, JobStatus.CANCELLED) and (
            record.error_type or record.error_message or record.error_traceback
        ):
            error = JobError(type=record.error_type, message=record.error_message,
                             traceback=record.error_traceback)
        return cls(
            id=record.id,
            program_id=record.program_id,
            program_version=record.program_version,
            owner=record.owner,
            status=record.status,
            reason=record.reason,
            backend=record.backend,
            profile=record.profile,
            inputs=json.loads(record.inputs),
            options=record.options,
            created_at=record.created_at,
            started_at=record.started_at,
            ended_at=record.ended_at,
            error=error,
            metrics=record.metrics,
            cancel_requested=record.cancel_requested,
            message_count=record.message_count,
            result=(json.loads(record.result) if "result" in include
                    and record.status is JobStatus.DONE and record.result is not None
                    else None),
            logs=record.logs if "logs" in include else None,
            interim_results=([json.loads(data) for data in interim or []]
                             if "interim_results" in include else None),
        )

    def to_record(self) -> JobRecord:
        """The record a client reads this document into (what a ``RuntimeJob`` holds)."""
        error = self.error or JobError(type=None, message=None, traceback=None)
        return JobRecord(
            id=self.id,
            program_id=self.program_id or "",
            program_version=self.program_version or 0,
            owner=self.owner,
            status=self.status,
            reason=self.reason,
            backend=self.backend,
            profile=self.profile,
            inputs=json.dumps(self.inputs),
            options=self.options,
            created_at=self.created_at or datetime.fromtimestamp(0).astimezone(),
            started_at=self.started_at,
            ended_at=self.ended_at,
            result=json.dumps(self.result) if self.result is not None else None,
            error_type=error.type,
            error_message=error.message,
            error_traceback=error.traceback,
            logs=self.logs or "",
            metrics=self.metrics,
            cancel_requested=self.cancel_requested,
            claimed_by=None,
            heartbeat_at=None,
            message_count=self.message_count,
        )

    def to_json(self) -> dict[str, Any]:
        """The document as plain JSON data (dates in ISO 8601)."""
        return self.model_dump(mode="json")


class ProgramDocument(BaseModel):
    """A program's current version, as every door shows it."""

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

    def to_record(self) -> ProgramRecord:
        """The record a client reads this document into (what a ``RuntimeProgram`` holds)."""
        spec = {key: getattr(self, key) for key in ("parameters", "return_values",
                                                    "interim_results", "backend_requirements")
                if getattr(self, key)}
        metadata = {"name": self.name, "description": self.description,
                    "max_execution_time": self.max_execution_time, "spec": spec}
        return ProgramRecord(
            id=self.id,
            name=self.name,
            owner=self.owner,
            is_public=self.is_public,
            created_at=self.creation_date,
            updated_at=self.update_date,
            current_version=self.version,
            version=ProgramVersionRecord(
                program_id=self.id, version=self.version, metadata_json=json.dumps(metadata),
                source_hash="", entry="", created_at=self.creation_date,
                review_status=self.review_status),
        )


class InterimDocument(BaseModel):
    """One interim result: its number and its value in RuntimeEncoder's wire form."""

    seq: int
    data: Any


class BackendInfo(BaseModel):
    """A backend jobs can name: what ``backends()`` returns and ``GET /v1/backends`` lists.

    ``num_qubits`` is the device's size (a simulator's: what its method may simulate);
    ``max_qubits`` and ``max_shots`` are the admission limits a ``backend.run`` call meets.
    """

    name: str
    alias_of: str | None = None
    method: str
    simulator: bool
    num_qubits: int
    max_qubits: int
    max_shots: int
    basis_gates: list[str]
    coupling_map: list[list[int]] | None = None

    def __str__(self) -> str:
        return self.name
