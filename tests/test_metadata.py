"""Program metadata: the model, loading, hostile schemas, and checking values against them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit

from engine.errors import InputValidationError, MetadataError, PolicyError
from engine.metadata import (
    DRAFT_2019_09,
    BackendRequirements,
    MetadataPolicy,
    ProgramMetadata,
    check_schema,
    load_metadata,
    metadata_policy,
    validate_inputs,
    validate_value,
)
from engine.policy_files import load_policy

HELLO_WORLD: dict[str, Any] = {
    "name": "hello-world",
    "description": "A sample runtime program.",
    "max_execution_time": 300,
    "spec": {
        "backend_requirements": {"min_num_qubits": 5},
        "parameters": {
            "$schema": DRAFT_2019_09,
            "properties": {
                "iterations": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Number of iterations to run.",
                }
            },
            "required": ["iterations"],
        },
        "return_values": {
            "$schema": DRAFT_2019_09,
            "description": "A string that says 'Hello, World!'.",
            "type": "string",
        },
        "interim_results": {
            "$schema": DRAFT_2019_09,
            "properties": {
                "iteration": {"type": "integer", "description": "Iteration number."},
                "counts": {
                    "description": "Histogram data of the circuit result.",
                    "type": "object",
                },
            },
        },
    },
}


def hello(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HELLO_WORLD)
    data.update(changes)
    return data


def with_schema(schema: Any, field: str = "parameters") -> dict[str, Any]:
    data = hello()
    data["spec"][field] = schema
    return data


def problems_of(source: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(MetadataError) as info:
        load_metadata(source, **kwargs)
    assert "Traceback" not in str(info.value)
    assert "errors.pydantic.dev" not in str(info.value)
    return dict(info.value.problems)


def small_policy(**schemas: int) -> MetadataPolicy:
    policy = metadata_policy()
    return policy.model_copy(update={"schemas": policy.schemas.model_copy(update=schemas)})


def violations_of(schema: Any, value: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(InputValidationError) as info:
        validate_value(schema, value, **kwargs)
    return info.value.violations


# --- the model and loading ---------------------------------------------------------------------


def test_the_original_hello_world_metadata_loads() -> None:
    metadata = load_metadata(HELLO_WORLD)
    assert metadata.name == "hello-world"
    assert metadata.max_execution_time == 300
    assert metadata.version == "1.0"
    assert metadata.is_public is False
    assert metadata.spec.backend_requirements.min_num_qubits == 5
    assert metadata.spec.parameters == HELLO_WORLD["spec"]["parameters"]


def test_round_trip_through_dict_and_json() -> None:
    metadata = load_metadata(hello(version="2.1", is_public=True))
    assert load_metadata(metadata.to_dict()) == metadata
    assert load_metadata(metadata.to_json()) == metadata
    assert json.loads(metadata.to_json())["is_public"] is True
    assert metadata.to_dict()["spec"]["return_values"]["type"] == "string"


def test_minimal_metadata_gets_defaults() -> None:
    metadata = load_metadata({"name": "x", "description": "d", "max_execution_time": 1})
    assert metadata.version == "1.0"
    assert metadata.spec.parameters is None
    assert metadata.spec.backend_requirements.min_num_qubits == 0
    assert "parameters" not in metadata.to_dict()["spec"]


def test_load_from_json_text_bytes_and_files(tmp_path: Path) -> None:
    text = json.dumps(HELLO_WORLD)
    expected = load_metadata(HELLO_WORLD)
    assert load_metadata(text) == expected
    assert load_metadata("\n  " + text) == expected
    assert load_metadata(text.encode()) == expected
    path = tmp_path / "hello_world.json"
    path.write_text(text)
    assert load_metadata(path) == expected
    assert load_metadata(str(path)) == expected


def test_a_schema_is_a_private_copy() -> None:
    data = hello()
    metadata = load_metadata(data)
    data["spec"]["parameters"]["properties"]["iterations"]["type"] = "string"
    assert metadata.spec.parameters["properties"]["iterations"]["type"] == "integer"


@pytest.mark.parametrize("field", ["name", "description", "max_execution_time"])
def test_a_missing_required_field_is_named(field: str) -> None:
    data = hello()
    del data[field]
    assert problems_of(data) == {field: "required field is missing"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("description", ["a"]),
        ("max_execution_time", "300"),
        ("max_execution_time", True),
        ("max_execution_time", 300.5),
        ("version", 1.0),
        ("is_public", "yes"),
    ],
)
def test_a_wrong_type_is_named(field: str, value: Any) -> None:
    problems = problems_of(hello(**{field: value}))
    assert list(problems) == [field]


@pytest.mark.parametrize("name", ["hello world", "-hello", "", "héllo", "a/b", "x" * 65])
def test_bad_names_are_refused(name: str) -> None:
    assert list(problems_of(hello(name=name))) == ["name"]


@pytest.mark.parametrize("name", ["hello-world", "Sample_program2", "qaoa", "x" * 64])
def test_good_names_are_accepted(name: str) -> None:
    assert load_metadata(hello(name=name)).name == name


@pytest.mark.parametrize("description", ["", "   "])
def test_an_empty_description_is_refused(description: str) -> None:
    assert problems_of(hello(description=description)) == {"description": "must not be empty"}


def test_max_execution_time_bounds() -> None:
    maximum = metadata_policy().max_execution_time.maximum
    assert load_metadata(hello(max_execution_time=maximum)).max_execution_time == maximum
    assert "positive" in problems_of(hello(max_execution_time=0))["max_execution_time"]
    assert "positive" in problems_of(hello(max_execution_time=-5))["max_execution_time"]
    message = problems_of(hello(max_execution_time=maximum + 1))["max_execution_time"]
    assert str(maximum) in message


def test_unknown_fields_are_refused_with_the_allowed_ones() -> None:
    data = hello(max_exec_time=5)
    data["spec"]["paramters"] = {}
    data["spec"]["backend_requirements"]["gpu"] = True
    problems = problems_of(data)
    assert "max_execution_time" in problems["max_exec_time"]
    assert "parameters" in problems["spec.paramters"]
    assert "min_num_qubits" in problems["spec.backend_requirements.gpu"]


def test_every_problem_is_listed_with_its_location() -> None:
    data = hello(name="bad name", max_execution_time=0)
    del data["description"]
    data["spec"]["parameters"]["properties"]["iterations"]["type"] = "integr"
    data["spec"]["return_values"] = {"minLength": "five"}
    with pytest.raises(MetadataError) as info:
        load_metadata(data)
    locations = [location for location, _ in info.value.problems]
    assert locations == [
        "name",
        "description",
        "max_execution_time",
        "spec.parameters.properties.iterations.type",
        "spec.return_values.minLength",
    ]
    assert "5 problems" in str(info.value)
    assert "spec.parameters.properties.iterations.type: 'integr'" in str(info.value)


def test_metadata_must_be_an_object() -> None:
    with pytest.raises(MetadataError, match="must be a JSON object, not an array"):
        load_metadata(b"[1, 2]")
    with pytest.raises(MetadataError, match="must be a mapping, JSON text or a file path"):
        load_metadata(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "x",\n "description": }', "not valid JSON: Expecting value at line 2"),
        ('{"name": "x", "name": "y"}', "duplicate key 'name'"),
        ('{"max_execution_time": NaN}', "NaN is not a JSON value"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        (b'{"name": "\xff"}', "not valid JSON"),
    ],
)
def test_bad_json_is_refused_with_a_clear_message(text: str | bytes, expected: str) -> None:
    with pytest.raises(MetadataError, match=expected):
        load_metadata(text)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(MetadataError, match=r"missing\.json: cannot read metadata"):
        load_metadata(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ')
    with pytest.raises(MetadataError, match=r"broken\.json: not valid JSON"):
        load_metadata(broken)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(hello(name="no spaces allowed")))
    with pytest.raises(MetadataError, match=r"invalid\.json: invalid program metadata"):
        load_metadata(invalid)


def test_a_document_larger_than_the_policy_is_refused(tmp_path: Path) -> None:
    limit = metadata_policy().document.max_bytes
    huge = hello(description="x" * (limit + 1))
    with pytest.raises(MetadataError, match=f"larger than {limit} bytes"):
        load_metadata(json.dumps(huge))
    with pytest.raises(MetadataError, match=f"larger than {limit} bytes"):
        load_metadata(huge)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(huge))
    with pytest.raises(MetadataError, match=f"larger than {limit} bytes"):
        load_metadata(path)


def test_a_python_mapping_must_hold_json_values() -> None:
    data = hello()
    data["spec"]["parameters"]["properties"]["iterations"]["minimum"] = float("nan")
    with pytest.raises(MetadataError, match="not a JSON number"):
        load_metadata(data)
    data = hello()
    data["spec"]["parameters"]["default"] = {1, 2}
    with pytest.raises(MetadataError, match="set, which is not a JSON value"):
        load_metadata(data)


def test_default_metadata_for_a_bare_script() -> None:
    policy = metadata_policy()
    metadata = ProgramMetadata.for_script("some/where/hello_world.py")
    assert metadata.name == "hello-world"
    assert metadata.max_execution_time == policy.max_execution_time.default
    assert "hello_world.py" in metadata.description
    assert metadata.spec.parameters is None
    assert ProgramMetadata.for_script("My Program!.py").name == "my-program"
    assert ProgramMetadata.for_script("___.py").name == "program"
    assert len(ProgramMetadata.for_script("a" * 200 + ".py").name) == policy.name_max_length


def test_backend_requirements_against_a_backend_description() -> None:
    requirements = BackendRequirements(min_num_qubits=5, basis_gates=["cx", "rz"])
    assert requirements.unmet(name="aer", num_qubits=30, basis_gates=["cx", "rz", "sx"]) == []
    reasons = requirements.unmet(name="tiny", num_qubits=2, basis_gates=["cx"])
    assert len(reasons) == 2
    assert "at least 5 qubits" in reasons[0]
    assert "['rz']" in reasons[1]
    only = BackendRequirements(backend_names=["aer_simulator"])
    assert only.unmet(name="other", num_qubits=5) == [
        "runs only on ['aer_simulator'], not on 'other'"
    ]


def test_the_shipped_policy_is_valid_and_a_broken_one_is_refused() -> None:
    data = load_policy("metadata")
    assert MetadataPolicy.from_mapping(data) == metadata_policy()
    data["max_execution_time"] = {"maximum": 10, "default": 20}
    with pytest.raises(PolicyError, match="must not exceed the maximum"):
        MetadataPolicy.from_mapping(data)
    with pytest.raises(PolicyError, match="schemas"):
        MetadataPolicy.from_mapping(
            {k: v for k, v in load_policy("metadata").items() if k != "schemas"}
        )


# --- hostile schemas --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "location", "expected"),
    [
        ("integer", "spec.parameters", "must be an object or a boolean"),
        ({"type": "integr"}, "spec.parameters.type", "not a JSON Schema type"),
        ({"type": "PauliSumOp"}, "spec.parameters.type", "not a JSON Schema type"),
        ({"minimum": "5"}, "spec.parameters.minimum", "is not of type 'number'"),
        ({"required": "x"}, "spec.parameters.required", "is not of type 'array'"),
        ({"properties": {"x": {"type": 5}}}, "spec.parameters.properties.x.type", "not a JSON"),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            "spec.parameters.$schema",
            "only draft 2019-09",
        ),
    ],
)
def test_an_invalid_schema_is_refused_where_it_is_wrong(
    schema: Any, location: str, expected: str
) -> None:
    problems = problems_of(with_schema(schema))
    assert expected in problems[location]


def test_boolean_schemas_are_schemas() -> None:
    metadata = load_metadata(with_schema(True))
    validate_inputs(metadata, {"anything": 1})
    refusing = load_metadata(with_schema(False))
    with pytest.raises(InputValidationError):
        validate_inputs(refusing, {})


@pytest.mark.parametrize(
    "ref",
    [
        "https://example.com/schema.json",
        "http://127.0.0.1:1/x.json#/defs/a",
        "other.json",
        "file:///etc/passwd",
        DRAFT_2019_09,
    ],
)
def test_remote_references_are_refused(ref: str) -> None:
    problems = problems_of(with_schema({"properties": {"x": {"$ref": ref}}}))
    assert "not a local reference" in problems["spec.parameters.properties.x.$ref"]


def test_local_references_work_and_dangling_ones_are_refused() -> None:
    schema = {
        "$defs": {"count": {"type": "integer", "minimum": 1}},
        "properties": {"n": {"$ref": "#/$defs/count"}},
    }
    metadata = load_metadata(with_schema(schema))
    validate_inputs(metadata, {"n": 3})
    with pytest.raises(InputValidationError, match=r"\$\.n: 0 is less than the minimum of 1"):
        validate_inputs(metadata, {"n": 0})
    dangling = {"properties": {"n": {"$ref": "#/$defs/nothing"}}}
    problems = problems_of(with_schema(dangling))
    assert "does not point into this schema" in problems["spec.parameters.properties.n.$ref"]


def test_id_and_recursive_ref_elsewhere_are_refused() -> None:
    problems = problems_of(with_schema({"$id": "https://example.com/s", "type": "object"}))
    assert "$id is not allowed" in problems["spec.parameters.$id"]
    problems = problems_of(with_schema({"items": {"$recursiveRef": "#/items"}}))
    assert "must be '#'" in problems["spec.parameters.items.$recursiveRef"]


def test_keywords_inside_data_are_not_mistaken_for_schemas() -> None:
    schema = {
        "properties": {"$ref": {"type": "string"}, "$id": {"type": "integer"}},
        "enum": [{"$ref": "https://example.com"}],
        "default": {"pattern": "(?=x)"},
    }
    assert load_metadata(with_schema(schema)).spec.parameters == schema


def test_a_schema_larger_than_the_policy_is_refused() -> None:
    limit = metadata_policy().schemas.max_bytes
    schema = {"description": "x" * limit}
    problems = problems_of(with_schema(schema))
    assert f"larger than {limit} bytes" in problems["spec.parameters"]


def test_a_deep_schema_is_refused() -> None:
    depth = metadata_policy().schemas.max_depth
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(depth // 2):  # each wrap adds two levels
        schema = {"properties": {"x": schema}}
    problems = problems_of(with_schema(schema))
    ((location, message),) = problems.items()
    assert location.startswith("spec.parameters.properties.x.properties.x")
    assert f"deeper than {depth} levels" in message


def test_a_schema_with_too_many_nodes_is_refused() -> None:
    policy = small_policy(max_nodes=50)
    schema = {"properties": {f"p{i}": {"type": "integer"} for i in range(30)}}
    ((location, message),) = problems_of(with_schema(schema), policy=policy).items()
    assert location.startswith("spec.parameters")
    assert message == "schema has more than 50 nodes"
    wide = {"enum": list(range(1000))}
    assert problems_of(with_schema(wide), policy=policy) == {
        "spec.parameters.enum": "schema has more than 50 nodes"
    }


def test_a_cyclic_python_schema_is_refused_without_hanging() -> None:
    schema: dict[str, Any] = {"type": "object"}
    schema["properties"] = {"self": schema}
    with pytest.raises(MetadataError, match="deeper than"):
        load_metadata(with_schema(schema))


def test_a_catastrophic_regex_runs_in_linear_time() -> None:
    # With a backtracking engine this would not finish: (a+)+$ on 'aaa...!' is exponential.
    schema = {"properties": {"word": {"type": "string", "pattern": "^(a+)+$"}}}
    metadata = load_metadata(with_schema(schema))
    validate_inputs(metadata, {"word": "a" * 100_000})
    with pytest.raises(InputValidationError) as info:
        validate_inputs(metadata, {"word": "a" * 100_000 + "!"})
    ((path, message),) = info.value.violations
    assert path == "$.word"
    assert "does not match '^(a+)+$'" in message
    assert len(message) <= metadata_policy().validation.max_message_length


def test_catastrophic_pattern_properties_run_in_linear_time() -> None:
    schema = {"patternProperties": {"^(x|x)*$": {"type": "integer"}}, "additionalProperties": False}
    metadata = load_metadata(with_schema(schema))
    validate_inputs(metadata, {"x" * 50_000: 1})
    with pytest.raises(InputValidationError) as info:
        validate_inputs(metadata, {"x" * 50_000 + "y": 1, "xx": "not an integer"})
    assert [path for path, _ in info.value.violations] == ["$", "$.xx"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("(a)\\1", "invalid escape sequence"),
        ("(?=a)b", "invalid perl operator"),
        ("(?<!a)b", "invalid perl operator"),
        ("a{5000}", "invalid repetition size"),
        ("(", "missing )"),
        ("[\\p{L}\\d]{1000}", "pattern too large"),
    ],
)
def test_patterns_outside_the_linear_time_engine_are_refused(pattern: str, expected: str) -> None:
    problems = problems_of(with_schema({"properties": {"s": {"pattern": pattern}}}))
    assert expected in problems["spec.parameters.properties.s.pattern"]
    ((location, message),) = problems_of(with_schema({"patternProperties": {pattern: {}}})).items()
    assert location == f"spec.parameters.patternProperties[{json.dumps(pattern)}]"
    assert expected in message


def test_a_long_pattern_is_refused() -> None:
    limit = metadata_policy().schemas.max_pattern_length
    problems = problems_of(with_schema({"pattern": "a" * (limit + 1)}))
    assert f"longer than {limit} characters" in problems["spec.parameters.pattern"]


def test_unevaluated_properties_next_to_pattern_properties_is_refused() -> None:
    schema = {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}
    problems = problems_of(with_schema(schema))
    assert "cannot be combined" in problems["spec.parameters"]
    alone = load_metadata(with_schema({"properties": {"a": {}}, "unevaluatedProperties": False}))
    with pytest.raises(InputValidationError, match="'b' was unexpected"):
        validate_inputs(alone, {"a": 1, "b": 2})


def test_check_schema_prefixes_locations() -> None:
    check_schema({"type": "string", "pattern": "^[a-z]+$"})
    with pytest.raises(MetadataError) as info:
        check_schema({"properties": {"x": {"type": "nope"}}}, where="spec.return_values")
    assert info.value.problems[0][0] == "spec.return_values.properties.x.type"


def test_format_is_an_annotation_only() -> None:
    metadata = load_metadata(with_schema({"properties": {"when": {"format": "date-time"}}}))
    validate_inputs(metadata, {"when": "not a date"})


# --- checking values --------------------------------------------------------------------------

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "iterations": {"type": "integer", "minimum": 0},
        "backend_hint": {"type": "string"},
        "names": {"type": "array", "items": {"type": "string"}},
        "options": {
            "type": "object",
            "properties": {"shots": {"type": "integer", "maximum": 100_000}},
        },
    },
    "required": ["iterations", "backend_hint"],
    "additionalProperties": False,
}


def test_every_violation_is_listed_with_its_path_sorted() -> None:
    metadata = load_metadata(with_schema(INPUT_SCHEMA))
    inputs = {
        "iterations": -1,
        "names": ["a", 2, "c", None] + ["x"] * 8 + [3],
        "options": {"shots": 10**6},
        "typo": True,
    }
    with pytest.raises(InputValidationError) as info:
        validate_inputs(metadata, inputs)
    paths = [path for path, _ in info.value.violations]
    assert paths == [
        "$",
        "$",
        "$.iterations",
        "$.names[1]",
        "$.names[3]",
        "$.names[12]",
        "$.options.shots",
    ]
    messages = dict(info.value.violations[2:])
    assert messages["$.iterations"] == "-1 is less than the minimum of 0"
    assert "is not of type 'string'" in messages["$.names[1]"]
    assert "'backend_hint' is a required property" in [m for _, m in info.value.violations]
    assert str(info.value).startswith("7 invalid inputs:")


def test_valid_inputs_pass_and_without_a_schema_anything_named_does() -> None:
    metadata = load_metadata(with_schema(INPUT_SCHEMA))
    validate_inputs(metadata, {"iterations": 3, "backend_hint": "aer", "names": ["a"]})
    bare = ProgramMetadata.for_script("x.py")
    validate_inputs(bare, {"anything": object()})
    with pytest.raises(InputValidationError, match="must be an object of named parameters"):
        validate_inputs(bare, [1, 2])
    with pytest.raises(InputValidationError, match="parameter names must be strings"):
        validate_inputs(bare, {1: 2})


def test_decoded_values_are_checked_as_json_would_see_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "point": {"type": "array", "items": {"type": "number"}, "minItems": 2},
            "shots": {"type": "integer", "minimum": 1},
            "flag": {"type": "boolean"},
            "pair": {"type": "array", "maxItems": 2},
            "circuit": {"description": "any QuantumCircuit"},
        },
    }
    validate_value(
        schema,
        {
            "point": np.array([0.5, 1.5]),
            "shots": np.int64(1024),
            "flag": np.bool_(True),
            "pair": (1, 2),
            "circuit": QuantumCircuit(1),
        },
    )
    violations = violations_of(
        schema, {"point": np.array([1.0]), "shots": np.int32(0), "pair": {1, 2, 3}}
    )
    assert [path for path, _ in violations] == ["$.pair", "$.point", "$.shots"]


def test_objects_without_a_json_type_match_no_type() -> None:
    schema = {"type": "object", "properties": {"c": {"type": "object"}, "z": {"type": "number"}}}
    violations = violations_of(schema, {"c": QuantumCircuit(2), "z": 1 + 2j})
    assert violations == [
        ("$.c", "<QuantumCircuit> is not of type 'object'"),
        ("$.z", "<complex> is not of type 'number'"),
    ]


def test_return_values_and_interim_results_are_checked_with_what_they_are() -> None:
    metadata = load_metadata(HELLO_WORLD)
    validate_value(metadata.spec.return_values, "Hello, World!", what="return value")
    with pytest.raises(InputValidationError, match=r"^1 invalid return value:\n  \$: 42"):
        validate_value(metadata.spec.return_values, 42, what="return value")
    validate_value(metadata.spec.interim_results, {"iteration": 1, "counts": {"00": 5}})
    with pytest.raises(InputValidationError, match=r"\$\.iteration"):
        validate_value(metadata.spec.interim_results, {"iteration": "one"}, what="interim result")
    validate_value(None, object())


def test_validate_value_checks_the_schema_itself() -> None:
    with pytest.raises(MetadataError, match="not a local reference"):
        validate_value({"$ref": "https://example.com/x"}, 1)
    with pytest.raises(MetadataError, match="invalid perl operator"):
        validate_value({"pattern": "(?=a)"}, "a")


def test_unique_items_follows_json_equality() -> None:
    schema = {"type": "array", "uniqueItems": True}
    validate_value(schema, [{"a": 1}, {"a": 2}, 1, True, "1", [1]])
    assert violations_of(schema, [{"a": 1, "b": [1]}, {"b": [1.0], "a": 1}])[0][0] == "$"
    assert violations_of(schema, [1, 1.0])
    validate_value(schema, [{"a": i} for i in range(20_000)])


def test_big_integers_and_special_floats_do_not_break_validation() -> None:
    schema = {"type": "number", "multipleOf": 0.5, "maximum": 10}
    violations = violations_of(schema, 10**5000)
    assert [message for _, message in violations] == [
        "<integer of 16610 bits> is greater than the maximum of 10"
    ]
    assert len(violations_of(schema, float("inf"))) == 2
    validate_value({"type": "integer", "multipleOf": 3}, 3 * 10**400)


def test_exponential_schemas_stop_at_the_work_limit() -> None:
    schema: dict[str, Any] = {"$defs": {"d20": {"type": "string"}}, "$ref": "#/$defs/d0"}
    for i in range(20):
        schema["$defs"][f"d{i}"] = {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2}
    metadata = load_metadata(with_schema(schema))
    policy = metadata_policy()
    policy = policy.model_copy(
        update={"validation": policy.validation.model_copy(update={"max_steps": 5000})}
    )
    with pytest.raises(InputValidationError) as info:
        validate_inputs(metadata, {}, policy=policy)
    assert info.value.violations[-1] == (
        "$",
        "validation stopped after 5000 steps (policy validation.max_steps): "
        "the value or the schema is too complex",
    )


def test_a_reference_loop_is_reported_not_raised() -> None:
    metadata = load_metadata(with_schema({"$ref": "#"}))
    with pytest.raises(InputValidationError, match="recursed too deeply"):
        validate_inputs(metadata, {})


def test_values_beyond_the_size_limits_are_refused_before_validation() -> None:
    limits = metadata_policy().validation
    with pytest.raises(InputValidationError, match=f"more than {limits.max_nodes} values"):
        validate_value({"type": "array"}, np.zeros(limits.max_nodes + 1))
    deep: Any = 1
    for _ in range(limits.max_depth + 1):
        deep = [deep]
    with pytest.raises(InputValidationError, match=f"deeper than {limits.max_depth} levels"):
        validate_value({}, deep)


def test_messages_quote_large_values_briefly() -> None:
    limit = metadata_policy().validation.max_message_length
    schema = {"enum": [["x" * 1000] * 100], "type": "string"}
    violations = violations_of(schema, list(range(100_000)))
    assert len(violations) == 2
    assert all(len(message) <= limit for _, message in violations)
    assert "..." in violations[0][1]


def test_many_violations_are_capped_and_counted() -> None:
    maximum = metadata_policy().validation.max_violations
    violations = violations_of(
        {"type": "array", "items": {"type": "string"}}, list(range(maximum + 5))
    )
    assert len(violations) == maximum + 1
    assert violations[-1] == ("$", "... and 5 more violations")
