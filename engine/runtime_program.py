"""``RuntimeProgram``: what a user sees of an uploaded program.

It has the original client's fields (name, id, description, parameters, return values,
interim results, backend requirements, max execution time, creation and update dates,
``is_public``) plus ``version`` and ``owner``, prints as a readable summary, and renders as
an HTML table in Jupyter.
"""

from __future__ import annotations

import html
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from engine.errors import InputValidationError
from engine.records import ProgramRecord


class RuntimeProgram:
    """An uploaded program, as its current version describes it.

    Built from a stored record; the metadata is decoded only when a field that needs it is
    read, so listing thousands of programs costs only the query.
    """

    def __init__(self, record: ProgramRecord) -> None:
        self._record = record

    @classmethod
    def from_record(cls, record: ProgramRecord) -> RuntimeProgram:
        return cls(record)

    # fields kept in the program's row
    @property
    def program_id(self) -> str:
        return self._record.id

    @property
    def id(self) -> str:
        """The program id (also ``program_id``, as in the original client)."""
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def owner(self) -> str:
        return self._record.owner

    @property
    def is_public(self) -> bool:
        return self._record.is_public

    @property
    def version(self) -> int:
        return self._record.current_version

    @property
    def review_status(self) -> str:
        """The current version's review state: approved, pending_review or rejected.

        Jobs run the newest approved version, which may be older than :attr:`version`.
        """
        return str(self._record.version.review_status)

    @property
    def creation_date(self) -> datetime:
        return self._record.created_at

    @property
    def update_date(self) -> datetime:
        return self._record.updated_at

    # fields read from the current version's metadata
    @property
    def _metadata(self) -> dict[str, Any]:
        return self._record.version.metadata

    @property
    def _spec(self) -> dict[str, Any]:
        return self._metadata.get("spec") or {}

    @property
    def description(self) -> str:
        return self._metadata.get("description", "")

    @property
    def max_execution_time(self) -> float:
        return self._metadata.get("max_execution_time", 0)

    def parameters(self) -> ParameterNamespace:
        """A namespace with one attribute per input parameter (all ``None``), to fill in and
        pass to ``run`` as the inputs, as with the original client."""
        return ParameterNamespace(self._parameter_schema)

    @property
    def _parameter_schema(self) -> dict[str, Any]:
        return self._spec.get("parameters") or {}

    @property
    def return_values(self) -> dict[str, Any]:
        return self._spec.get("return_values") or {}

    @property
    def interim_results(self) -> dict[str, Any]:
        return self._spec.get("interim_results") or {}

    @property
    def backend_requirements(self) -> dict[str, Any]:
        return self._spec.get("backend_requirements") or {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuntimeProgram) and (
            (self.program_id, self.version) == (other.program_id, other.version)
        )

    def __hash__(self) -> int:
        return hash((self.program_id, self.version))

    def __repr__(self) -> str:
        return f"<RuntimeProgram {self.program_id} v{self.version}>"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (dates as ISO 8601)."""
        return {
            "id": self.program_id,
            "name": self.name,
            "description": self.description,
            "max_execution_time": self.max_execution_time,
            "version": self.version,
            "review_status": self.review_status,
            "owner": self.owner,
            "is_public": self.is_public,
            "creation_date": self.creation_date.isoformat(),
            "update_date": self.update_date.isoformat(),
            "backend_requirements": self.backend_requirements,
            "parameters": self._parameter_schema,
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
            f"  Review status: {self.review_status}",
            f"  Owner: {self.owner}",
            f"  Is public: {self.is_public}",
            "  Backend requirements:",
            *_indent(_mapping_lines(self.backend_requirements), 4),
            "  Input parameters:",
            *_indent(_schema_lines(self._parameter_schema), 4),
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
                ("Input parameters", self._parameter_schema),
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


class ParameterNamespace(SimpleNamespace):
    """A program's input parameters as attributes, each ``None`` until set.

    ``service.run(program_id, namespace)`` takes it as the inputs: :meth:`validate` runs
    first, and the parameters left ``None`` are not sent. ``metadata`` is the parameters'
    JSON Schema.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        super().__init__(**{name: None for name in (properties or {})})
        object.__setattr__(self, "_schema", schema if isinstance(schema, dict) else {})

    @property
    def metadata(self) -> dict[str, Any]:
        """The parameters' JSON Schema."""
        return self._schema

    def to_dict(self) -> dict[str, Any]:
        """The values set so far (parameters still ``None`` are left out)."""
        return {name: value for name, value in vars(self).items()
                if not name.startswith("_") and value is not None}

    def validate(self) -> None:
        """Raise :class:`InputValidationError` naming every required parameter left unset."""
        missing = [name for name in self._schema.get("required") or []
                   if getattr(self, name, None) is None]
        if missing:
            raise InputValidationError([(name, "required parameter has no value")
                                        for name in missing], what="inputs")

    def __str__(self) -> str:
        required = set(self._schema.get("required") or [])
        properties = self._schema.get("properties") or {}
        lines = ["ParameterNamespace (Values):"]
        for name, schema in properties.items():
            schema = schema if isinstance(schema, dict) else {}
            flag = "required" if name in required else "optional"
            lines.append(f"  {name} = {getattr(self, name, None)!r} "
                         f"({schema.get('type', 'any')}, {flag}): "
                         f"{schema.get('description', '')}".rstrip(": "))
        return "\n".join(lines)
