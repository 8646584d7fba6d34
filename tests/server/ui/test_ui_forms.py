"""The run form generated from a parameters schema, and reading it back (pure logic)."""

from __future__ import annotations

import json

from engine.server.ui.forms import form_fields, place_violations, read_form

SCHEMA = {
    "type": "object",
    "properties": {
        "maxiter": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "rate": {"type": "number", "exclusiveMinimum": 0},
        "optimizer": {"type": "string", "enum": ["COBYLA", "Powell"]},
        "label": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
        "loose": {"type": "string", "pattern": "abc"},
        "flag": {"type": "boolean"},
        "seed": {"type": ["integer", "null"]},
        "hamiltonian": {"type": "array"},
        "we ird\"<b>": {"type": "integer"},
    },
    "required": ["maxiter", "label"],
}


def _by_name():
    return {item.name: item for item in form_fields(SCHEMA)}


def test_each_property_gets_the_field_its_type_calls_for() -> None:
    fields = _by_name()
    assert fields["maxiter"].kind == "integer" and fields["maxiter"].required
    assert fields["maxiter"].attributes == {"step": "1", "min": "1", "max": "1000"}
    assert fields["maxiter"].placeholder == "100"
    assert fields["rate"].attributes == {"step": "any"}
    assert fields["optimizer"].kind == "enum"
    assert [value for value, _ in fields["optimizer"].choices] == ['"COBYLA"', '"Powell"']
    assert fields["label"].attributes == {"maxlength": "8", "pattern": "[a-z]+"}
    assert "pattern" not in fields["loose"].attributes  # unanchored: the server checks it
    assert fields["flag"].kind == "boolean" and fields["seed"].kind == "integer"
    assert fields["hamiltonian"].kind == "json"
    assert form_fields({"type": "object"}) == [] and form_fields(None) == []


def test_reading_a_form_converts_values_and_leaves_out_empty_fields() -> None:
    fields = form_fields(SCHEMA)
    form = {"in.maxiter": "7", "in.rate": "0.5", "in.optimizer": '"Powell"', "in.label": "ab",
            "in.flag": "false", "in.seed": "", "in.hamiltonian": '[["ZZ", 1.0]]'}
    inputs = read_form(fields, form, 1000)
    assert inputs == {"maxiter": 7, "rate": 0.5, "optimizer": "Powell", "label": "ab",
                      "flag": False, "hamiltonian": [["ZZ", 1.0]]}
    assert not any(item.error for item in fields)


def test_unreadable_fields_get_their_error_and_keep_what_was_entered() -> None:
    fields = form_fields(SCHEMA)
    form = {"in.maxiter": "seven", "in.rate": "nan", "in.optimizer": '"SGD"',
            "in.hamiltonian": "[[", "in.label": "x" * 3}
    inputs = read_form(fields, form, 1000)
    errors = {item.name: item.error for item in fields if item.error}
    assert errors["maxiter"] == "must be a whole number"
    assert errors["rate"] == "must be a finite number"
    assert errors["optimizer"] == "must be one of the choices offered"
    assert errors["hamiltonian"].startswith("not valid JSON")
    assert inputs == {"label": "xxx"}
    assert _value_of(fields, "maxiter") == "seven"
    big = form_fields(SCHEMA)
    read_form(big, {"in.hamiltonian": json.dumps(list(range(100)))}, 20)
    assert "max_json_field_chars" in _error_of(big, "hamiltonian")


def test_violations_go_beside_the_field_their_path_names() -> None:
    fields = form_fields(SCHEMA)
    rest = place_violations(fields, [
        ("$.maxiter", "0 is less than the minimum of 1"),
        ("$.hamiltonian[0][1]", "'x' is not of type 'number'"),
        ('$["we ird\\"<b>"]', "'a' is not of type 'integer'"),
        ("$", "'label' is a required property"),
        ("$", "Additional properties are not allowed ('zzz' was unexpected)"),
    ])
    assert _error_of(fields, "maxiter") == "0 is less than the minimum of 1"
    assert _error_of(fields, "hamiltonian") == "[0][1]: 'x' is not of type 'number'"
    assert _error_of(fields, 'we ird"<b>') == "'a' is not of type 'integer'"
    assert _error_of(fields, "label") == "'label' is a required property"
    assert rest == ["$: Additional properties are not allowed ('zzz' was unexpected)"]


def _error_of(fields, name):
    return next(item.error for item in fields if item.name == name)


def _value_of(fields, name):
    return next(item.value for item in fields if item.name == name)
