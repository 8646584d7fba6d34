"""A user-written JSON Schema checked as hostile: size, metaschema, references, patterns."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import re2
from jsonschema import Draft201909Validator, ValidationError
from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT201909

from engine.errors import MetadataError
from engine.metadata.bounds import _measure
from engine.metadata.limits import MetadataPolicy, SchemaLimits, metadata_policy
from engine.metadata.problems import (
    _format_location,
    _json_type,
    _path_key,
    _problem_text,
    _short,
)
from engine.metadata.views import _BOUNDED_REPR

DRAFT_2019_09 = "https://json-schema.org/draft/2019-09/schema"
"""The only ``$schema`` a program's schemas may declare (with or without a trailing ``#``)."""


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
