"""Metadata loaded from a mapping, JSON text or a file, every problem reported at once."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from engine.errors import MetadataError
from engine.metadata.bounds import _measure
from engine.metadata.limits import MetadataPolicy, metadata_policy
from engine.metadata.model import ProgramMetadata
from engine.metadata.problems import _format_location, _json_type, _problem_text, _short


def load_metadata(
    source: ProgramMetadata | Mapping[str, Any] | str | bytes | os.PathLike[str],
    *,
    policy: MetadataPolicy | None = None,
) -> ProgramMetadata:
    """Load and validate metadata from a mapping, JSON text or a file.

    A ``str`` whose first non-blank character is ``{`` or ``[`` is JSON text, any other
    ``str`` (and any ``os.PathLike``) is a file path; ``bytes`` are JSON text. Every problem
    is reported in one :class:`MetadataError`, each with its location, for example
    ``spec.parameters.properties.x.type: ...``.
    """
    if isinstance(source, ProgramMetadata):
        return source
    policy = policy or metadata_policy()
    origin = ""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and not source.lstrip().startswith(("{", "["))
    ):
        origin = f"{_short(os.fspath(source), 200)}: "
        data: Any = _parse_json(_read_file(source, policy), origin, policy)
    elif isinstance(source, (str, bytes, bytearray)):
        data = _parse_json(source, origin, policy)
    elif isinstance(source, Mapping):
        data = source
    else:
        raise MetadataError(
            f"metadata must be a mapping, JSON text or a file path, not {type(source).__name__}"
        )
    if not isinstance(data, Mapping):
        raise MetadataError(f"{origin}metadata must be a JSON object, not {_json_type(data)}")
    limits = policy.document
    too_big = _measure(data, limits.max_bytes, limits.max_depth, max_nodes=None)
    if too_big is not None:
        path, message = too_big
        where = _format_location(path)
        raise MetadataError(
            f"{origin}metadata {message}" + (f" (at {where})" if where else ""),
            [(where or "(root)", f"metadata {message}")],
        )
    try:
        return ProgramMetadata.model_validate(dict(data), context={"policy": policy})
    except PydanticValidationError as exc:
        problems = _pydantic_problems(exc)
        title = f"{origin}invalid program metadata"
        raise MetadataError(_problem_text(title, problems), problems) from None


def _read_file(path: str | os.PathLike[str], policy: MetadataPolicy) -> bytes:
    limit = policy.document.max_bytes
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        where = _short(os.fspath(path), 200)
        raise MetadataError(f"{where}: cannot read metadata: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise MetadataError(f"{_short(os.fspath(path), 200)}: metadata larger than {limit} bytes")
    return data


def _parse_json(text: str | bytes | bytearray, origin: str, policy: MetadataPolicy) -> Any:
    limit = policy.document.max_bytes
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > limit:
        raise MetadataError(f"{origin}metadata larger than {limit} bytes")
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise MetadataError(
            f"{origin}not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MetadataError(f"{origin}not valid JSON: nested too deeply") from None
    except ValueError as exc:  # bad encoding, a duplicate key, NaN, an over-long integer
        raise MetadataError(f"{origin}not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {_short(key, 80)!r}")
        result[key] = value
    return result


def _pydantic_problems(exc: PydanticValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        location = tuple(error["loc"])
        if error["type"] == "json_schema":
            for sub_path, message in error["ctx"]["problems"]:
                problems.append((_format_location(location + tuple(sub_path)), message))
            continue
        message = error["msg"]
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field" + _known_fields(location)
        problems.append((_format_location(location) or "(root)", message))
    return problems


def _known_fields(location: tuple[Any, ...]) -> str:
    model: type[BaseModel] = ProgramMetadata
    for part in location[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    return f" (allowed: {', '.join(model.model_fields)})"
