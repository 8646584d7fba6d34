"""Metered validation: values checked against a program's schemas in bounded work."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from fractions import Fraction
from functools import lru_cache
from typing import Any

from jsonschema import Draft201909Validator, ValidationError
from jsonschema.validators import extend
from referencing.exceptions import Unresolvable

from engine.errors import InputValidationError, MetadataError
from engine.metadata.bounds import _measure
from engine.metadata.limits import MetadataPolicy, SchemaLimits, metadata_policy
from engine.metadata.model import ProgramMetadata
from engine.metadata.problems import (
    _format_location,
    _json_path,
    _json_type,
    _path_key,
    _problem_text,
    _short,
)
from engine.metadata.schema_checks import (
    _NO_RETRIEVAL,
    _compiled_pattern,
    _schema_problems,
    check_schema,
)
from engine.metadata.views import _BOUNDED_REPR, _JsonView, _quoted_briefly, _TooLarge


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
