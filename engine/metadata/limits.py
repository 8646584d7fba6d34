"""``policies/metadata.yaml`` as a validated model: every limit on metadata and its schemas."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator
from pydantic import ValidationError as PydanticValidationError

from engine.errors import PolicyError
from engine.metadata.problems import _format_location
from engine.policy_files import load_policy, policy_dir


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentLimits(_PolicyModel):
    """Bounds on a whole metadata document."""

    max_bytes: PositiveInt
    max_depth: PositiveInt


class ExecutionTimeLimits(_PolicyModel):
    """``max_execution_time`` bounds, in seconds."""

    maximum: PositiveInt
    default: PositiveInt

    @model_validator(mode="after")
    def _default_within_maximum(self) -> ExecutionTimeLimits:
        if self.default > self.maximum:
            raise ValueError("max_execution_time.default must not exceed the maximum")
        return self


class SchemaLimits(_PolicyModel):
    """Bounds on each JSON Schema in ``spec``."""

    max_bytes: PositiveInt
    max_depth: PositiveInt
    max_nodes: PositiveInt
    max_pattern_length: PositiveInt
    max_pattern_memory: PositiveInt


class ValidationLimits(_PolicyModel):
    """Bounds on checking one value against a schema."""

    max_nodes: PositiveInt
    max_depth: PositiveInt
    max_steps: PositiveInt
    max_violations: PositiveInt
    max_message_length: PositiveInt


class MetadataPolicy(_PolicyModel):
    """``policies/metadata.yaml``: every limit that applies to metadata and its schemas."""

    document: DocumentLimits
    name_max_length: PositiveInt
    description_max_length: PositiveInt
    version_max_length: PositiveInt
    max_execution_time: ExecutionTimeLimits
    schemas: SchemaLimits
    validation: ValidationLimits

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], source: str = "metadata policy"
    ) -> MetadataPolicy:
        """Validate a parsed policy; errors name the source and each bad field."""
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            raise PolicyError(f"{source}: invalid policy: {_pydantic_summary(exc)}") from None


@lru_cache(maxsize=1)
def metadata_policy() -> MetadataPolicy:
    """The metadata policy from ``policies/metadata.yaml``, read once."""
    return MetadataPolicy.from_mapping(
        load_policy("metadata"), source=str(policy_dir() / "metadata.yaml")
    )


def _pydantic_summary(exc: PydanticValidationError) -> str:
    return "; ".join(
        f"{_format_location(tuple(error['loc'])) or '(root)'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
