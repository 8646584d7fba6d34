"""The serialization policy: limits, wire choices and the ``settings`` allowlist.

The defaults live in ``policies/serialization.yaml``; this module validates that file (or a
caller's own policy) with pydantic and caches the result. It is imported inside the sandbox
too, so it depends only on pydantic, PyYAML and ``engine.policy_files``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from engine.policy_files import policy_dir, read_policy_file, validate_policy

POLICY_NAME = "serialization"

_DOTTED_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SettingsClass(_Strict):
    """One class a ``settings`` payload may rebuild, and what it may be given."""

    module: str = Field(pattern=_DOTTED_NAME, description="Module that defines the class.")
    class_name: str = Field(alias="class", pattern=_IDENTIFIER, description="The class name.")
    arguments: tuple[str, ...] = Field(
        description="Keyword arguments a payload may pass to the constructor."
    )
    nested: tuple[str, ...] = Field(
        default=(), description="Allowlisted class names whose objects may appear in the values."
    )


class DecodeLimits(_Strict):
    """Bounds on what one decoded document may cost."""

    max_text_chars: PositiveInt
    max_depth: int = Field(ge=2, le=500)
    max_values: PositiveInt
    max_integer_digits: int = Field(ge=1, le=4300)
    non_finite_floats: Literal["allow", "refuse"]
    max_decompressed_bytes: PositiveInt
    max_total_decompressed_bytes: PositiveInt
    max_array_bytes: PositiveInt
    max_circuit_qubits: PositiveInt
    max_circuit_clbits: PositiveInt
    max_parameter_vector_length: PositiveInt
    max_total_parameter_vector_length: PositiveInt
    max_expression_chars: PositiveInt
    max_noise_model_qubits: PositiveInt
    max_noise_model_errors: PositiveInt
    max_noise_model_instructions: PositiveInt
    max_encoded_bytes: PositiveInt


class WireFormat(_Strict):
    """Format choices of the encoder that are not dictated by the wire format itself."""

    qpy_version: int = Field(ge=13, description="QPY version written (capped by qiskit's).")
    zlib_level: int = Field(ge=-1, le=9)


class SerializationPolicy(_Strict):
    """The whole policy file, validated."""

    limits: DecodeLimits
    wire: WireFormat
    on_unknown_type: Literal["plain", "error"]
    on_unlisted_settings: Literal["error", "plain"]
    settings_allowlist: tuple[SettingsClass, ...] = ()

    def settings_class(self, module: str, class_name: str) -> SettingsClass | None:
        """The allowlist entry for exactly ``module``.``class_name``, or None."""
        for entry in self.settings_allowlist:
            if entry.module == module and entry.class_name == class_name:
                return entry
        return None

    def with_allowlist(self, entries: list[SettingsClass | dict[str, Any]]) -> SerializationPolicy:
        """A copy of this policy with its ``settings`` allowlist replaced by ``entries``."""
        parsed = tuple(
            entry if isinstance(entry, SettingsClass) else SettingsClass.model_validate(entry)
            for entry in entries
        )
        return self.model_copy(update={"settings_allowlist": parsed})


def parse_policy(data: dict[str, Any], source: str = "<policy>") -> SerializationPolicy:
    """Validate a policy mapping; errors name the source and every bad field."""
    return validate_policy(SerializationPolicy, data, source)


def load_policy_file(path: str | os.PathLike[str]) -> SerializationPolicy:
    """Read and validate a serialization policy file (YAML or JSON)."""
    return parse_policy(read_policy_file(path), source=str(path))


@lru_cache(maxsize=1)
def _default_policy(path: Path) -> SerializationPolicy:
    return load_policy_file(path)


def default_policy() -> SerializationPolicy:
    """``policies/serialization.yaml``, read on first use and cached (per policy folder)."""
    return _default_policy(policy_dir() / f"{POLICY_NAME}.yaml")
