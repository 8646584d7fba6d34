"""``RuntimeProgram``: what a user sees of an uploaded program.

It has the original client's fields (name, id, description, parameters, return values,
interim results, backend requirements, max execution time, creation and update dates,
``is_public``) plus ``version`` and ``owner``, prints as a readable summary, and renders as
an HTML table in Jupyter.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.store.records import ProgramRecord


@dataclass(frozen=True)
class RuntimeProgram:
    """An uploaded program, as its current version describes it."""

    program_id: str
    name: str
    description: str
    max_execution_time: float
    version: int
    owner: str
    is_public: bool
    creation_date: datetime
    update_date: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    return_values: dict[str, Any] = field(default_factory=dict)
    interim_results: dict[str, Any] = field(default_factory=dict)
    backend_requirements: dict[str, Any] = field(default_factory=dict)
    metadata_version: str | None = None

    @classmethod
    def from_record(cls, record: ProgramRecord) -> RuntimeProgram:
        metadata = record.version.metadata
        spec = metadata.get("spec") or {}
        return cls(
            program_id=record.id,
            name=record.name,
            description=metadata.get("description", ""),
            max_execution_time=metadata.get("max_execution_time", 0),
            version=record.current_version,
            owner=record.owner,
            is_public=record.is_public,
            creation_date=record.created_at,
            update_date=record.updated_at,
            parameters=spec.get("parameters") or {},
            return_values=spec.get("return_values") or {},
            interim_results=spec.get("interim_results") or {},
            backend_requirements=spec.get("backend_requirements") or {},
            metadata_version=metadata.get("version"),
        )

    @property
    def id(self) -> str:
        """The program id (the original client's ``program.program_id`` is also here)."""
        return self.program_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (dates as ISO 8601)."""
        return {
            "id": self.program_id,
            "name": self.name,
            "description": self.description,
            "max_execution_time": self.max_execution_time,
            "version": self.version,
            "owner": self.owner,
            "is_public": self.is_public,
            "creation_date": self.creation_date.isoformat(),
            "update_date": self.update_date.isoformat(),
            "backend_requirements": self.backend_requirements,
            "parameters": self.parameters,
            "return_values": self.return_values,
            "interim_results": self.interim_results,
        }

    def __str__(self) -> str:
        lines = [
            f"{self.program_id}:",
            f"  Name: {self.name}",
            f"  Description: {self.description}",
            f"  Creation date: {self.creation_date.isoformat()}",
            f"  Update date: {self.update_date.isoformat()}",
            f"  Max execution time: {self.max_execution_time}",
            f"  Version: {self.version}",
            f"  Owner: {self.owner}",
            f"  Is public: {self.is_public}",
            "  Backend requirements:",
            *_indent(_mapping_lines(self.backend_requirements), 4),
            "  Input parameters:",
            *_indent(_schema_lines(self.parameters), 4),
            "  Interim results:",
            *_indent(_schema_lines(self.interim_results), 4),
            "  Returns:",
            *_indent(_schema_lines(self.return_values), 4),
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            ("Program id", self.program_id),
            ("Name", self.name),
            ("Description", self.description),
            ("Version", self.version),
            ("Owner", self.owner),
            ("Public", self.is_public),
            ("Max execution time", self.max_execution_time),
            ("Created", self.creation_date.isoformat()),
            ("Updated", self.update_date.isoformat()),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        specs = "".join(
            f"<tr><th style='text-align:left'>{html.escape(title)}</th>"
            f"<td><pre>{html.escape(chr(10).join(_schema_lines(schema)))}</pre></td></tr>"
            for title, schema in (
                ("Input parameters", self.parameters),
                ("Interim results", self.interim_results),
                ("Returns", self.return_values),
            )
        )
        return f"<table>{cells}{specs}</table>"


def _indent(lines: list[str], width: int) -> list[str]:
    return [" " * width + line for line in lines]


def _mapping_lines(mapping: dict[str, Any]) -> list[str]:
    return [f"{key}: {value}" for key, value in mapping.items()] or ["none"]


def _schema_lines(schema: dict[str, Any]) -> list[str]:
    """A schema as the original client printed it: description, type, properties."""
    if not schema:
        return ["none"]
    lines = []
    if "description" in schema:
        lines.append(f"Description: {schema['description']}")
    if "type" in schema:
        lines.append(f"Type: {schema['type']}")
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        required = set(schema.get("required") or [])
        lines.append("Properties:")
        for name, prop in properties.items():
            lines.append(f"    - {name}:")
            if isinstance(prop, dict):
                if "description" in prop:
                    lines.append(f"        Description: {prop['description']}")
                if "type" in prop:
                    lines.append(f"        Type: {prop['type']}")
            lines.append(f"        Required: {name in required}")
    return lines or ["none"]
