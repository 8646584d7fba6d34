"""The metadata model: ``ProgramMetadata``, its ``spec`` and the backend requirements."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from engine.metadata.limits import MetadataPolicy, metadata_policy
from engine.metadata.problems import _format_location, _short
from engine.metadata.schema_checks import _schema_problems

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""A program name: letters, digits, ``-`` and ``_``, starting with a letter or a digit."""

_NAME_RE = re.compile(NAME_PATTERN)
_SCHEMA_FIELDS = ("parameters", "return_values", "interim_results")


def _bounded_text(value: str, limit: int) -> str:
    """``value`` if it is not blank and at most ``limit`` characters long."""
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


def _policy_from(info: ValidationInfo | None) -> MetadataPolicy:
    context = info.context if info is not None else None
    if isinstance(context, Mapping) and isinstance(context.get("policy"), MetadataPolicy):
        return context["policy"]
    return metadata_policy()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BackendRequirements(_Model):
    """What a backend must offer to run the program.

    Every key can be checked against a backend description (name, number of qubits, basis
    gates): ``min_num_qubits``, ``basis_gates`` (each must be among the backend's basis gates)
    and ``backend_names`` (the backend's name must be one of them).
    """

    min_num_qubits: int = Field(default=0, ge=0)
    basis_gates: list[str] | None = None
    backend_names: list[str] | None = None

    def unmet(
        self, *, name: str, num_qubits: int, basis_gates: list[str] | tuple[str, ...] = ()
    ) -> list[str]:
        """Why a backend with this description cannot run the program (empty: it can)."""
        reasons = []
        if num_qubits < self.min_num_qubits:
            reasons.append(
                f"needs at least {self.min_num_qubits} qubits, backend {name!r} has {num_qubits}"
            )
        if self.basis_gates is not None:
            missing = sorted(set(self.basis_gates) - set(basis_gates))
            if missing:
                reasons.append(f"needs basis gates {missing} that backend {name!r} lacks")
        if self.backend_names is not None and name not in self.backend_names:
            reasons.append(f"runs only on {self.backend_names}, not on {name!r}")
        return reasons


class ProgramSpec(_Model):
    """``spec``: backend requirements and the JSON Schemas of inputs and outputs."""

    backend_requirements: BackendRequirements = Field(default_factory=BackendRequirements)
    parameters: dict[str, Any] | bool | None = None
    return_values: dict[str, Any] | bool | None = None
    interim_results: dict[str, Any] | bool | None = None

    @field_validator(*_SCHEMA_FIELDS, mode="before")
    @classmethod
    def _checked_schema(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        problems = _schema_problems(value, _policy_from(info).schemas)
        if problems:
            summary = "; ".join(
                f"{_format_location(path) or '(root)'}: {message}" for path, message in problems
            )
            raise PydanticCustomError(
                "json_schema",
                "invalid JSON Schema: {summary}",
                {"summary": summary, "problems": problems},
            )
        # A private copy: the caller's nested objects cannot change a checked schema later.
        return json.loads(json.dumps(value))


class ProgramMetadata(_Model):
    """A program's metadata, as uploaded with it (see the module docstring)."""

    name: str
    description: str
    max_execution_time: int
    version: str = "1.0"
    is_public: bool = False
    spec: ProgramSpec = Field(default_factory=ProgramSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        limit = _policy_from(info).name_max_length
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        if not _NAME_RE.fullmatch(value):
            raise ValueError(
                f"{_short(value, 80)!r} does not match {NAME_PATTERN} (letters, digits, '-' "
                "and '_', starting with a letter or a digit, e.g. 'hello-world')"
            )
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str, info: ValidationInfo) -> str:
        return _bounded_text(value, _policy_from(info).description_max_length)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str, info: ValidationInfo) -> str:
        return _bounded_text(value, _policy_from(info).version_max_length)

    @field_validator("max_execution_time")
    @classmethod
    def _max_execution_time(cls, value: int, info: ValidationInfo) -> int:
        maximum = _policy_from(info).max_execution_time.maximum
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        if value > maximum:
            raise ValueError(f"{value} seconds is more than the maximum of {maximum} seconds")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The metadata as a JSON-ready mapping; ``load_metadata`` reads it back unchanged."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self, **kwargs: Any) -> str:
        """The metadata as JSON text (``kwargs`` go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def for_script(
        cls, path: str | os.PathLike[str], *, policy: MetadataPolicy | None = None
    ) -> ProgramMetadata:
        """Default metadata for a bare ``NAME.py`` run without any.

        The name is the file's stem made to fit :data:`NAME_PATTERN` (``hello_world.py``
        becomes ``hello-world``), ``max_execution_time`` is the policy's default, and ``spec``
        is empty, so inputs and outputs are not checked.
        """
        policy = policy or metadata_policy()
        filename = Path(path).name
        name = _normalise_name(Path(path).stem, policy.name_max_length)
        return cls.model_validate(
            {
                "name": name,
                "description": f"Program {_short(filename, 200)}, run without metadata.",
                "max_execution_time": policy.max_execution_time.default,
            },
            context={"policy": policy},
        )


def _normalise_name(stem: str, max_length: int) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return name[:max_length].rstrip("-") or "program"
