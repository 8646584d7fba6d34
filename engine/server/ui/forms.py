"""A run form generated from a program's ``spec.parameters`` JSON Schema, and reading it back.

Each top-level property becomes one field: a number box (``integer``, ``number``, with the
schema's bounds as ``min``/``max``), a choice (``enum``, ``boolean``), a text box
(``string``, with its length bounds, and its pattern when the schema anchors it at both
ends, since an HTML pattern always matches the whole value), or a JSON text area for
anything else (arrays, objects, several types). The browser checks what HTML can; the
server then reads the fields back into inputs and the service checks them against the
schema as for any ``run``. Every violation is put beside the field its JSON path names.
An empty field is left out, so the program's default applies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The prefix of a parameter's form field name (the other fields are the form's own).
PREFIX = "in."
#: A violation's JSON path: the parameter it is about is its first step.
_PATH_HEAD = re.compile(r'^\$(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\])')
_REQUIRED = re.compile(r"^'(.+)' is a required property$")
_SIMPLE = ("integer", "number", "string", "boolean")


@dataclass
class FormField:
    """One parameter's field: how to show it, what was entered, and what is wrong with it."""

    name: str
    kind: str  # integer | number | string | boolean | enum | json
    required: bool
    description: str = ""
    default: Any = None
    has_default: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    value: str = ""
    error: str | None = None

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def placeholder(self) -> str:
        if not self.has_default:
            return ""
        return self.default if isinstance(self.default, str) else json.dumps(self.default)


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    return []


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return repr(value) if isinstance(value, float) else str(value)


def form_fields(schema: Any) -> list[FormField]:
    """The fields of the run form for a ``spec.parameters`` schema (none without one)."""
    if not isinstance(schema, Mapping):
        return []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required")
    required_names = set(required) if isinstance(required, list) else set()
    fields = []
    for name, sub in properties.items():
        if not isinstance(name, str):
            continue
        sub = sub if isinstance(sub, Mapping) else {}
        fields.append(_field(name, sub, name in required_names))
    return fields


def _field(name: str, schema: Mapping[str, Any], required: bool) -> FormField:
    types = [t for t in _types(schema) if t != "null"]
    description = schema.get("description")
    made = FormField(name=name, kind="json", required=required,
                     description=description if isinstance(description, str) else "",
                     default=schema.get("default"), has_default="default" in schema)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        made.kind = "enum"
        made.choices = [(json.dumps(v), v if isinstance(v, str) else json.dumps(v))
                        for v in enum]
        return made
    if len(types) != 1 or types[0] not in _SIMPLE:
        return made
    made.kind = types[0]
    attributes = made.attributes
    if made.kind in ("integer", "number"):
        attributes["step"] = "1" if made.kind == "integer" else "any"
        for key, attribute in (("minimum", "min"), ("maximum", "max")):
            text = _number_text(schema.get(key))
            if text is not None:
                attributes[attribute] = text
    elif made.kind == "string":
        for key, attribute in (("minLength", "minlength"), ("maxLength", "maxlength")):
            value = schema.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                attributes[attribute] = str(value)
        pattern = schema.get("pattern")
        if (isinstance(pattern, str) and pattern.startswith("^") and pattern.endswith("$")
                and not pattern.endswith("\\$") and len(pattern) <= 1000):
            attributes["pattern"] = pattern[1:-1]
    elif made.kind == "boolean":
        made.choices = [("true", "true"), ("false", "false")]
    return made


def read_form(fields: list[FormField], form: Mapping[str, Any],
              max_json_chars: int) -> dict[str, Any]:
    """The inputs the submitted ``form`` gives; each field keeps what was entered, and
    a field that cannot be read gets its ``error`` (the value is then left out)."""
    inputs: dict[str, Any] = {}
    for item in fields:
        raw = form.get(item.input_name)
        text = raw if isinstance(raw, str) else ""
        item.value = text
        if not text.strip():
            continue
        try:
            inputs[item.name] = _value(item, text.strip(), max_json_chars)
        except ValueError as exc:
            item.error = str(exc)
    return inputs


def _value(item: FormField, text: str, max_json_chars: int) -> Any:
    if item.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if item.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if item.kind == "string":
        return text
    if item.kind in ("enum", "boolean"):
        if text not in {value for value, _label in item.choices}:
            raise ValueError("must be one of the choices offered")
        return json.loads(text)
    if len(text) > max_json_chars:
        raise ValueError(f"at most {max_json_chars} characters (policy: max_json_field_chars)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at character {exc.pos}") from None


def place_violations(fields: list[FormField],
                     violations: list[tuple[str, str]]) -> list[str]:
    """Put each ``(json_path, message)`` beside the field it names; return the others."""
    by_name = {item.name: item for item in fields}
    unplaced = []
    for path, message in violations:
        target = None
        head = _PATH_HEAD.match(path)
        if head is not None:
            target = head.group(1) if head.group(1) is not None else _decoded(head.group(2))
            rest = path[head.end():]
            message = f"{rest.lstrip('.')}: {message}" if rest else message
        elif path == "$" and (missing := _REQUIRED.match(message)):
            target = missing.group(1)
        item = by_name.get(target) if target is not None else None
        if item is None:
            unplaced.append(f"{path}: {message}")
        else:
            item.error = f"{item.error}; {message}" if item.error else message
    return unplaced


def _decoded(quoted: str) -> str | None:
    try:
        value = json.loads(quoted)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None
