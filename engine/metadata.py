"""Program metadata: the model, its loading, and checking values against its JSON Schemas.

Metadata has the original service's shape::

    {"name": "hello-world", "description": "...", "max_execution_time": 300,
     "version": "1.0", "is_public": false,
     "spec": {"backend_requirements": {"min_num_qubits": 5},
              "parameters": {...}, "return_values": {...}, "interim_results": {...}}}

``name`` matches :data:`NAME_PATTERN` (letters, digits, ``-`` and ``_``, starting with a letter
or digit, as in ``hello-world``); unknown fields are refused so that a typo is reported, not
ignored. ``spec.parameters``, ``spec.return_values`` and ``spec.interim_results`` are JSON
Schemas (draft 2019-09).

The schemas come from users, so they are treated as hostile:

- *Size.* Each schema is bounded in bytes, nesting depth and node count
  (``policies/metadata.yaml``), checked by an iterative walk before anything else reads it.
- *References.* Only same-document references (``"$ref": "#/..."``) are allowed, ``$id`` is
  refused (it would move the base URI), every reference must resolve when the metadata is
  loaded, and validation runs with a ``referencing`` registry whose retrieval always fails,
  so no schema can make the engine fetch anything.
- *Regular expressions.* ``pattern`` and ``patternProperties`` are matched with RE2
  (``google-re2``), an automaton-based engine whose matching time is linear in the input;
  no user pattern ever reaches Python's backtracking ``re``. A pattern must compile under
  RE2 within ``schemas.max_pattern_memory`` (so lookaround and backreferences are refused at
  load time) and is at most ``schemas.max_pattern_length`` characters. The one place where
  ``jsonschema`` itself would run a pattern through ``re`` (``unevaluatedProperties`` next to
  ``patternProperties``) is refused at load time. ``format`` is an annotation only, as
  draft 2019-09 specifies.
- *Work.* Validation is metered: every keyword evaluation costs a step (more for keywords
  whose work grows with the value, such as ``enum``, ``uniqueItems`` or ``pattern``), and a
  value that needs more than ``validation.max_steps`` steps is refused. Exponential
  combinations of ``anyOf``/``oneOf``/``$ref`` therefore end with an error in bounded time,
  whatever the schema. ``uniqueItems`` uses hashing instead of ``jsonschema``'s quadratic
  comparison, and messages quote values through a bounded ``repr``.

Values are checked against the schemas as the program sees them, after ``RuntimeDecoder``:
numpy arrays count as arrays, numpy scalars as numbers, tuples and sets as arrays; other
objects (a ``QuantumCircuit``, a complex number, bytes) match no JSON type, so they pass only
a schema that does not constrain their type.
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import re2
from jsonschema import Draft201909Validator, ValidationError
from jsonschema.validators import extend, validator_for
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT201909

from engine.errors import InputValidationError, MetadataError, PolicyError
from engine.policy_files import load_policy, policy_dir

__all__ = [
    "DRAFT_2019_09",
    "NAME_PATTERN",
    "BackendRequirements",
    "MetadataPolicy",
    "ProgramMetadata",
    "ProgramSpec",
    "check_schema",
    "load_metadata",
    "metadata_policy",
    "validate_inputs",
    "validate_value",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""A program name: letters, digits, ``-`` and ``_``, starting with a letter or a digit."""

DRAFT_2019_09 = "https://json-schema.org/draft/2019-09/schema"
"""The only ``$schema`` a program's schemas may declare (with or without a trailing ``#``)."""

_NAME_RE = re.compile(NAME_PATTERN)
_SCHEMA_FIELDS = ("parameters", "return_values", "interim_results")


# --- policy ----------------------------------------------------------------------------------


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


# --- the model -------------------------------------------------------------------------------


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


# --- loading ---------------------------------------------------------------------------------


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


def _pydantic_summary(exc: PydanticValidationError) -> str:
    return "; ".join(
        f"{_format_location(tuple(error['loc'])) or '(root)'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _format_location(path: tuple[Any, ...] | list[Any]) -> str:
    """``("spec", "parameters", "properties", "x")`` -> ``spec.parameters.properties.x``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(_short(part, 80))}]"
    return text


# --- bounded walks ---------------------------------------------------------------------------


def _measure(
    value: Any, max_bytes: int, max_depth: int, max_nodes: int | None
) -> tuple[tuple[Any, ...], str] | None:
    """The first bound a JSON-like value breaks, as ``(path, message)``, or ``None``.

    Iterative, and stops as soon as a bound is passed, so a huge, deep or cyclic value costs
    no more than the bound itself.
    """
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    size = nodes = 0
    while stack:
        item, depth, path = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            return path, f"has more than {max_nodes} nodes"
        if depth > max_depth:
            return path, f"is nested deeper than {max_depth} levels"
        if isinstance(item, Mapping):
            size += 2 + len(item)
            for key, child in item.items():
                if not isinstance(key, str):
                    return path, f"has a key of type {type(key).__name__}; keys must be strings"
                size += _text_size(key) + 1
                stack.append((child, depth + 1, (*path, key)))
                if size > max_bytes:
                    break
        elif isinstance(item, list):
            size += 2 + len(item)
            if max_nodes is not None and len(item) > max_nodes:
                return path, f"has more than {max_nodes} nodes"
            if size <= max_bytes:
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
        elif isinstance(item, str):
            size += _text_size(item)
        elif item is None or isinstance(item, bool):
            size += 5
        elif isinstance(item, int):
            if item.bit_length() > _MAX_INT_BITS:
                return path, f"holds an integer of more than {_MAX_INT_BITS} bits"
            size += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path, f"holds {item!r}, which is not a JSON number"
            size += 24
        else:
            return path, f"holds a {type(item).__name__}, which is not a JSON value"
        if size > max_bytes:
            return (), f"is larger than {max_bytes} bytes"
    return None


_MAX_INT_BITS = 1024


def _text_size(text: str) -> int:
    if len(text) > 1 << 24:  # no need to encode a huge string to know it is too big
        return len(text) + 2
    return (len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))) + 2


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


# --- checking a schema -----------------------------------------------------------------------

# Keywords whose value is a schema, an array of schemas, or a map of schemas (draft 2019-09).
_ONE_SCHEMA = (
    "additionalItems", "unevaluatedItems", "contains", "additionalProperties",
    "unevaluatedProperties", "propertyNames", "not", "if", "then", "else",
)  # fmt: skip
_SCHEMA_ARRAYS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


def check_schema(schema: Any, *, policy: MetadataPolicy | None = None, where: str = "") -> None:
    """Check a user-written JSON Schema; raise :class:`MetadataError` listing every problem.

    ``where`` prefixes each location, e.g. ``"spec.parameters"``.
    """
    problems = _schema_problems(schema, (policy or metadata_policy()).schemas)
    if problems:
        listed = [(_join_location(where, _format_location(path)), m) for path, m in problems]
        raise MetadataError(_problem_text("invalid JSON Schema", listed), listed)


def _join_location(prefix: str, location: str) -> str:
    if not prefix or not location:
        return prefix or location
    return prefix + location if location.startswith("[") else f"{prefix}.{location}"


def _problem_text(title: str, problems: list[tuple[str, str]]) -> str:
    count = len(problems)
    lines = "\n".join(f"  {location or '(root)'}: {message}" for location, message in problems)
    return f"{title} ({count} problem{'s' if count != 1 else ''}):\n{lines}"


def _schema_problems(schema: Any, limits: SchemaLimits) -> list[tuple[tuple[Any, ...], str]]:
    """Every problem of a user-written schema, as ``(path within the schema, message)``."""
    if not isinstance(schema, (dict, bool)):
        return [((), f"a JSON Schema must be an object or a boolean, not {_json_type(schema)}")]
    too_big = _measure(schema, limits.max_bytes, limits.max_depth, limits.max_nodes)
    if too_big is not None:
        path, message = too_big
        return [(path, f"schema {message}")]
    if isinstance(schema, bool):
        return []
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2019_09
    ):
        return [(("$schema",), f"only draft 2019-09 is supported ({DRAFT_2019_09})")]
    problems = _metaschema_problems(schema) + _keyword_problems(schema, limits)
    if not problems:
        problems = _reference_problems(schema)
    unique = dict.fromkeys((tuple(path), message) for path, message in problems)
    return sorted(unique, key=lambda problem: (_path_key(problem[0]), problem[1]))


@lru_cache(maxsize=1)
def _metaschema_validator() -> Any:
    meta = Draft201909Validator.META_SCHEMA
    return validator_for(meta, default=Draft201909Validator)(meta, format_checker=None)


def _metaschema_problems(schema: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    errors = sorted(
        _metaschema_validator().iter_errors(schema),
        key=lambda error: (_path_key(error.absolute_path), error.message),
    )
    return [
        (tuple(error.absolute_path), _short(_metaschema_message(error), 300)) for error in errors
    ]


def _metaschema_message(error: ValidationError) -> str:
    if error.validator == "anyOf" and error.absolute_path and error.absolute_path[-1] == "type":
        return (
            f"{_BOUNDED_REPR.repr(error.instance)} is not a JSON Schema type (one of array, "
            "boolean, integer, null, number, object, string, or a list of them)"
        )
    return error.message


def _keyword_problems(
    schema: dict[str, Any], limits: SchemaLimits
) -> list[tuple[tuple[Any, ...], str]]:
    """The engine's own rules, on keyword positions only (never on data such as ``enum``).

    Runs next to the metaschema check, so it tolerates keywords of the wrong type (the
    metaschema reports those).
    """
    problems: list[tuple[tuple[Any, ...], str]] = []
    uses = {"patternProperties": False, "unevaluatedProperties": False}
    for node, path in _subschemas(schema):
        for keyword in uses:
            uses[keyword] = uses[keyword] or keyword in node
        if "$id" in node:
            problems.append(
                (
                    (*path, "$id"),
                    "$id is not allowed: a program's schema is one document; "
                    "use $defs with local references such as '#/$defs/name'",
                )
            )
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            problems.append(
                (
                    (*path, "$ref"),
                    f"{_short(ref, 80)!r} is not a local reference; only "
                    "references within the schema ('#/...') are allowed",
                )
            )
        if node.get("$recursiveRef", "#") != "#":
            problems.append(((*path, "$recursiveRef"), "$recursiveRef must be '#'"))
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            problem = _pattern_problem(pattern, limits)
            if problem:
                problems.append(((*path, "pattern"), problem))
        pattern_properties = node.get("patternProperties")
        for pattern in pattern_properties if isinstance(pattern_properties, dict) else ():
            problem = _pattern_problem(pattern, limits)
            if problem:
                problems.append(((*path, "patternProperties", pattern), problem))
    if uses["patternProperties"] and uses["unevaluatedProperties"]:
        problems.append(
            (
                (),
                "unevaluatedProperties cannot be combined with patternProperties in one "
                "schema (that combination is evaluated with a backtracking regex engine)",
            )
        )
    return problems


def _subschemas(schema: Any) -> Iterator[tuple[dict[str, Any], tuple[Any, ...]]]:
    """Every object subschema with its path, following draft 2019-09's applicator keywords."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            continue
        yield node, path
        for keyword in _ONE_SCHEMA:
            if keyword in node:
                stack.append((node[keyword], (*path, keyword)))
        for keyword in _SCHEMA_ARRAYS:
            children = node.get(keyword)
            if isinstance(children, list):
                stack.extend((child, (*path, keyword, i)) for i, child in enumerate(children))
        for keyword in (*_SCHEMA_MAPS, "dependencies"):
            children = node.get(keyword)
            if isinstance(children, dict):
                stack.extend((child, (*path, keyword, key)) for key, child in children.items())
        items = node.get("items")
        if isinstance(items, list):
            stack.extend((child, (*path, "items", i)) for i, child in enumerate(items))
        elif items is not None:
            stack.append((items, (*path, "items")))


def _pattern_problem(pattern: str, limits: SchemaLimits) -> str | None:
    if len(pattern) > limits.max_pattern_length:
        return f"pattern longer than {limits.max_pattern_length} characters"
    try:
        _compiled_pattern(pattern, limits.max_pattern_memory)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (
            f"pattern {_short(pattern, 80)!r} is not supported: {reason} (patterns run on a "
            "linear-time engine without lookaround or backreferences)"
        )
    except (UnicodeError, TypeError, ValueError) as exc:
        return f"pattern {_short(pattern, 80)!r} is not supported: {exc}"
    return None


def _reference_problems(schema: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Every local ``$ref`` must resolve now, not fail halfway through a job's validation."""
    refs = [
        ((*path, "$ref"), node["$ref"])
        for node, path in _subschemas(schema)
        if isinstance(node.get("$ref"), str)
    ]
    if not refs:
        return []
    resolver = SPECIFICATIONS.combine(_NO_RETRIEVAL).resolver_with_root(
        DRAFT201909.create_resource(schema)
    )
    problems = []
    for path, ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            problems.append((path, f"{_short(ref, 80)!r} does not point into this schema"))
    return problems


def _refuse_retrieval(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


_NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


@lru_cache(maxsize=128)
def _compiled_pattern(pattern: str, max_memory: int) -> Any:
    """An RE2 program using at most ``max_memory`` bytes (past that it refuses to compile, or
    matches with its slower automaton, still in linear time)."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_memory
    return re2.compile(pattern, options)


# --- metered validation ----------------------------------------------------------------------


class _BudgetExhausted(Exception):
    pass


class _Budget:
    """The work one validation may still do, and the regex memory it may use."""

    __slots__ = ("pattern_memory", "remaining")

    def __init__(self, steps: int, pattern_memory: int) -> None:
        self.remaining = steps
        self.pattern_memory = pattern_memory

    def spend(self, steps: int) -> None:
        self.remaining -= steps
        if self.remaining < 0:
            raise _BudgetExhausted


_BUDGET: ContextVar[_Budget | None] = ContextVar("engine_metadata_budget", default=None)


def _spend(steps: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(steps)


_Keyword = Callable[[Any, Any, Any, Any], Any]


def _metered(keyword: _Keyword, weight: Callable[[Any, Any], int] | None = None) -> _Keyword:
    def metered(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        _spend(1 if weight is None else 1 + weight(value, instance))
        errors = keyword(validator, value, instance, schema)
        if errors is not None:
            yield from errors

    metered.__name__ = getattr(keyword, "__name__", "keyword")
    return metered


def _size(value: Any) -> int:
    return getattr(value, "view_size", 1)


def _matches(pattern: str, text: str) -> bool:
    try:
        budget = _BUDGET.get()
        memory = (
            budget.pattern_memory
            if budget is not None
            else metadata_policy().schemas.max_pattern_memory
        )
        return _compiled_pattern(pattern, memory).search(text) is not None
    except UnicodeEncodeError:
        return False


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield ValidationError(f"{_BOUNDED_REPR.repr(instance)} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = [
        key
        for key in instance
        if key not in properties and not any(_matches(p, key) for p in patterns)
    ]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        shown = ", ".join(_BOUNDED_REPR.repr(key) for key in sorted(extras)[:20])
        more = f" and {len(extras) - 20} more" if len(extras) > 20 else ""
        if patterns:
            allowed = ", ".join(repr(p) for p in sorted(patterns))
            yield ValidationError(f"{shown}{more} match none of the patterns {allowed}")
        else:
            yield ValidationError(f"additional properties are not allowed ({shown}{more})")


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield ValidationError(f"{_BOUNDED_REPR.repr(instance)} has non-unique elements")
            return
        seen.add(key)


def _canonical(value: Any) -> Any:
    """A hashable form under which JSON-equal values (``1`` and ``1.0``) are equal."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return ("n", int(value))
        return ("n", value)
    if isinstance(value, str) or value is None:
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _canonical(item)) for key, item in value.items()))
    return ("x", id(value))


_REF_WEIGHT = 4


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "number"):
        return
    # As jsonschema does, but a huge integer falls back to exact fractions instead of raising.
    try:
        if isinstance(divisor, float):
            try:
                quotient = instance / divisor
                failed = int(quotient) != quotient
            except OverflowError:
                failed = Fraction(instance) % Fraction(divisor) != 0
        else:
            failed = bool(instance % divisor)
    except (OverflowError, ValueError):  # infinity or NaN: a multiple of nothing
        failed = True
    if failed:
        yield ValidationError(f"{_BOUNDED_REPR.repr(instance)} is not a multiple of {divisor}")


def _text_weight(_: Any, instance: Any) -> int:
    return len(instance) // 1024 if isinstance(instance, str) else 0


def _keys(instance: Any) -> int:
    return len(instance) if isinstance(instance, dict) else 0


def _build_validator_class() -> Any:
    base = Draft201909Validator.VALIDATORS
    keywords: dict[str, _Keyword] = {name: _metered(fn) for name, fn in base.items()}
    for name in ("$ref", "$recursiveRef"):  # a lookup and a new validator each time
        keywords[name] = _metered(base[name], lambda *_: _REF_WEIGHT)
    for name in ("allOf", "anyOf", "oneOf"):  # a new validator per subschema
        keywords[name] = _metered(base[name], lambda subschemas, _: len(subschemas))
    keywords.update(
        {
            "multipleOf": _metered(_multiple_of),
            "enum": _metered(base["enum"], lambda enum, inst: len(enum) * _size(inst)),
            "const": _metered(base["const"], lambda const, inst: _size(inst)),
            "uniqueItems": _metered(_unique_items, lambda _, inst: _size(inst)),
            "pattern": _metered(_pattern, _text_weight),
            "patternProperties": _metered(
                _pattern_properties, lambda patterns, inst: len(patterns) * _keys(inst)
            ),
            "additionalProperties": _metered(_additional_properties),
        }
    )
    return extend(Draft201909Validator, validators=keywords)


_SafeValidator = _build_validator_class()


def _validator(schema: Any, policy: MetadataPolicy) -> Any:
    limits = policy.schemas
    if _measure(schema, limits.max_bytes, limits.max_depth, limits.max_nodes) is not None:
        check_schema(schema, policy=policy)  # raises, naming the bound
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return _checked_validator(text, limits)


@lru_cache(maxsize=64)
def _checked_validator(schema_text: str, limits: SchemaLimits) -> Any:
    """A validator for a checked schema; cached, so each interim result is cheap to check."""
    schema = json.loads(schema_text)
    problems = _schema_problems(schema, limits)
    if problems:
        listed = [(_format_location(path), message) for path, message in problems]
        raise MetadataError(_problem_text("invalid JSON Schema", listed), listed)
    return _SafeValidator(_quoted_briefly(schema), registry=_NO_RETRIEVAL, format_checker=None)


def _quoted_briefly(value: Any) -> Any:
    """The schema with containers and long strings whose ``repr`` is bounded.

    ``jsonschema`` quotes schema values (an ``enum``, a ``const``) in its messages; this keeps
    every such quote short, whatever the schema holds. Equality and types are unchanged.
    """
    if isinstance(value, dict):
        result = _ViewDict((key, _quoted_briefly(item)) for key, item in value.items())
        result.view_size = 1
        return result
    if isinstance(value, list):
        items = _ViewList(_quoted_briefly(item) for item in value)
        items.view_size = 1
        return items
    if isinstance(value, str) and len(value) > _LONG_STRING:
        return _ViewStr(value)
    return value


def validate_inputs(
    metadata: ProgramMetadata, inputs: Any, *, policy: MetadataPolicy | None = None
) -> None:
    """Check a job's inputs against ``spec.parameters``.

    Raises :class:`InputValidationError` listing every violation with its JSON path (``$``
    is the inputs object), sorted by path. Without a ``parameters`` schema, only the shape
    is checked: inputs are a mapping from parameter names (strings) to values.
    """
    if not isinstance(inputs, Mapping):
        raise InputValidationError(
            [("$", f"inputs must be an object of named parameters, not {_json_type(inputs)}")]
        )
    bad_keys = [key for key in inputs if not isinstance(key, str)]
    if bad_keys:
        raise InputValidationError(
            [("$", f"parameter names must be strings, not {type(bad_keys[0]).__name__}")]
        )
    validate_value(metadata.spec.parameters, inputs, what="inputs", policy=policy)


def validate_value(
    schema: dict[str, Any] | bool | None,
    value: Any,
    what: str = "values",
    *,
    policy: MetadataPolicy | None = None,
) -> None:
    """Check ``value`` against a JSON Schema from metadata (``None``: nothing to check).

    Used for inputs (``spec.parameters``), a return value (``spec.return_values``) and each
    interim result (``spec.interim_results``). Raises :class:`InputValidationError` whose
    message starts with "N invalid {what}" and lists every violation with its JSON path.
    The schema is checked as hostile (it raises :class:`MetadataError` if it is not valid),
    and the work is bounded by the ``validation`` limits of the policy.
    """
    if schema is None:
        return
    policy = policy or metadata_policy()
    limits = policy.validation
    validator = _validator(schema, policy)
    try:
        view = _JsonView(limits).convert(value, 1)
    except _TooLarge as exc:
        raise InputValidationError([("$", f"too large to check: {exc}")], what=what) from None
    errors: list[ValidationError] = []
    note: str | None = None
    token = _BUDGET.set(_Budget(limits.max_steps, policy.schemas.max_pattern_memory))
    try:
        for error in validator.iter_errors(view):
            errors.append(error)
    except _BudgetExhausted:
        note = (
            f"validation stopped after {limits.max_steps} steps (policy validation.max_steps): "
            "the value or the schema is too complex"
        )
    except RecursionError:
        note = "validation recursed too deeply (does a $ref point back to itself?)"
    except Unresolvable as exc:
        note = f"a reference in the schema cannot be resolved: {exc}"
    finally:
        _BUDGET.reset(token)
    if not errors and note is None:
        return
    errors.sort(key=lambda error: (_path_key(error.absolute_path), error.message))
    found = dict.fromkeys(
        (_json_path(error.absolute_path), _short(error.message, limits.max_message_length))
        for error in errors
    )
    violations = list(found)[: limits.max_violations]
    if len(found) > limits.max_violations:
        violations.append(("$", f"... and {len(found) - limits.max_violations} more violations"))
    if note is not None:
        violations.append(("$", note))
    raise InputValidationError(violations, what=what)


def _path_key(path: Any) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and "$" not in part:
            text += f".{part}"
        else:
            text += f"[{json.dumps(_short(part, 80))}]"
    return text


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


# --- the value as JSON Schema sees it --------------------------------------------------------


class _TooLarge(Exception):
    pass


class _ViewList(list):  # type: ignore[type-arg]
    __slots__ = ("view_size",)

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewDict(dict):  # type: ignore[type-arg]
    __slots__ = ("view_size",)

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewStr(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewInt(int):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"<integer of {self.bit_length()} bits>"


class _Opaque:
    """A value with no JSON type (a circuit, a complex number, bytes...): matches no ``type``."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


class _BoundedRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxdict = 6
        self.maxstring = self.maxother = 60
        self.maxlong = 40

    def repr__ViewList(self, value: list[Any], level: int) -> str:
        return self.repr_list(value, level)

    def repr__ViewDict(self, value: dict[str, Any], level: int) -> str:
        return self.repr_dict(value, level)

    def repr__ViewStr(self, value: str, level: int) -> str:
        return self.repr_str(str.__str__(value), level)

    def repr__ViewInt(self, value: int, level: int) -> str:
        return repr(value)

    def repr_instance(self, value: Any, level: int) -> str:
        # Only bounded values reach here: floats, booleans, None, opaque markers.
        return _short(repr(value), self.maxother)


_BOUNDED_REPR = _BoundedRepr()
_LONG_STRING = 120
_BIG_INT_BITS = 256


class _JsonView:
    """Converts a decoded value to what JSON Schema checks, within the validation limits."""

    def __init__(self, limits: ValidationLimits) -> None:
        self.limits = limits
        self.nodes = 0

    def convert(self, value: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _TooLarge(f"holds more than {self.limits.max_nodes} values")
        if depth > self.limits.max_depth:
            raise _TooLarge(f"is nested deeper than {self.limits.max_depth} levels")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _ViewStr(value) if len(value) > _LONG_STRING else str(value)
        if isinstance(value, int):
            return _ViewInt(value) if value.bit_length() > _BIG_INT_BITS else int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, Mapping):
            start = self.nodes
            mapping = _ViewDict(
                (self._key(key), self.convert(item, depth + 1)) for key, item in value.items()
            )
            mapping.view_size = self.nodes - start + 1
            return mapping
        if isinstance(value, (list, tuple, set, frozenset)):
            start = self.nodes
            items = _ViewList(self.convert(item, depth + 1) for item in value)
            items.view_size = self.nodes - start + 1
            return items
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(value, numpy.ndarray):
                if value.size > self.limits.max_nodes - self.nodes:
                    raise _TooLarge(f"holds more than {self.limits.max_nodes} values")
                self.nodes -= 1
                return self.convert(value.tolist(), depth)
            if isinstance(value, numpy.generic):
                self.nodes -= 1
                return self.convert(value.item(), depth)
        return _Opaque(type(value).__name__)

    @staticmethod
    def _key(key: Any) -> str:
        if isinstance(key, str):
            return str(key)
        if key is None or isinstance(key, (bool, int, float)):
            return json.dumps(key)
        return f"<{type(key).__name__}>"
