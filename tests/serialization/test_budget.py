"""The decode budget: every limit refuses before allocating, and the two bombs cost nothing.

The bombs run in a fresh process (``decode_peak``) so the peak RSS rise measured is the
decode's own; the engine's budget is 1 GiB, and these assert far less than that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit.circuit import ParameterExpression, ParameterVector

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization import RuntimeDecoder, RuntimeEncoder, SerializationPolicy, default_policy
from engine.serialization.structure import measure_structure
from tests.serialization.bombs import (
    MIB,
    array_bomb,
    decode_peak,
    expression_with_vector,
    npy_zeros_wire,
    vector_bomb,
)

# The most a refused bomb may raise the decoding process's peak RSS.
REFUSED_PEAK = 200 * MIB


def decode(text: str, policy: SerializationPolicy | None = None) -> Any:
    return json.loads(text, cls=RuntimeDecoder, policy=policy)


def policy_with(**limits: Any) -> SerializationPolicy:
    base = default_policy()
    return base.model_copy(update={"limits": base.limits.model_copy(update=limits)})


# --- the bombs -------------------------------------------------------------------------------


def test_vector_bomb_of_1_4_kb_is_refused_before_any_vector_is_built(tmp_path: Path) -> None:
    text = vector_bomb()
    assert len(text) < 1500
    outcome = decode_peak(text, tmp_path)
    assert outcome["error"] == "DecodeBudgetExceeded"
    assert outcome["limit"] == "max_parameter_vector_length"
    assert "length 1000000 exceeds max_parameter_vector_length 100000" in outcome["message"]
    assert outcome["peak_rise_bytes"] < REFUSED_PEAK, outcome


def test_vectors_within_the_per_vector_limit_still_meet_the_document_total(
    tmp_path: Path,
) -> None:
    text = vector_bomb(vectors=8, length=100_000)  # each allowed, 800,000 elements together
    outcome = decode_peak(text, tmp_path)
    assert outcome["limit"] == "max_total_parameter_vector_length", outcome
    assert outcome["peak_rise_bytes"] < REFUSED_PEAK, outcome


def test_array_bomb_of_1_4_mb_inflating_to_1_gib_is_refused_at_its_first_header(
    tmp_path: Path,
) -> None:
    text = array_bomb()
    assert len(text) < 1.5 * MIB
    outcome = decode_peak(text, tmp_path)
    assert outcome["error"] == "DecodeBudgetExceeded"
    assert outcome["limit"] == "max_array_bytes"
    assert "an array of 268435456 bytes" in outcome["message"]
    assert outcome["peak_rise_bytes"] < REFUSED_PEAK, outcome


def test_legitimately_large_array_within_budget_decodes(tmp_path: Path) -> None:
    text = json.dumps(npy_zeros_wire((8 * MIB,)))  # 64 MiB of float64
    outcome = decode_peak(text, tmp_path)
    assert outcome == {"decoded": "ndarray", "peak_rise_bytes": outcome["peak_rise_bytes"]}
    assert outcome["peak_rise_bytes"] < 3 * 64 * MIB


# --- each limit on its own -------------------------------------------------------------------


def test_array_bytes_add_up_across_a_document() -> None:
    value = json.loads(json.dumps(np.zeros(1000), cls=RuntimeEncoder))  # 8,000 bytes
    policy = policy_with(max_array_bytes=20_000)
    assert len(decode(json.dumps([value, value]), policy)) == 2
    with pytest.raises(DecodeBudgetExceeded, match=r"to 24000 bytes, over max_array_bytes 20000"):
        decode(json.dumps([value, value, value]), policy)


def test_list_form_arrays_are_charged_per_element() -> None:
    text = json.dumps({"__type__": "ndarray", "__value__": [[1, 2], [3, 4]] * 10})
    assert decode(text, policy_with(max_array_bytes=320)).shape == (20, 2)
    with pytest.raises(DecodeBudgetExceeded, match=r"max_array_bytes 319") as info:
        decode(text, policy_with(max_array_bytes=319))
    assert info.value.limit == "max_array_bytes"


def test_sparse_matrix_members_are_charged_to_the_array_budget() -> None:
    import scipy.sparse

    text = json.dumps(scipy.sparse.identity(1000, format="csr"), cls=RuntimeEncoder)
    assert decode(text).shape == (1000, 1000)
    with pytest.raises(DecodeBudgetExceeded, match=r"spmatrix: .* max_array_bytes 1000"):
        decode(text, policy_with(max_array_bytes=1000))


def test_vector_shared_by_two_expressions_is_charged_once() -> None:
    vector = ParameterVector("w", 10)
    text = json.dumps([vector[0] * 2, vector[1] + 1], cls=RuntimeEncoder)
    first, second = decode(text, policy_with(max_total_parameter_vector_length=10))
    assert isinstance(first, ParameterExpression) and isinstance(second, ParameterExpression)
    two = json.dumps([expression_with_vector("a", 10), expression_with_vector("b", 10)])
    with pytest.raises(DecodeBudgetExceeded, match=r"'b' of length 10 would bring .* to 20"):
        decode(two, policy_with(max_total_parameter_vector_length=19))


def test_value_count_is_limited_before_parsing() -> None:
    text = json.dumps([[]] * 1000)
    assert len(decode(text, policy_with(max_values=1001))) == 1000
    with pytest.raises(DecodeBudgetExceeded, match=r"up to 1001 values, more than max_values 1000"):
        decode(text, policy_with(max_values=1000))


def test_commas_inside_strings_are_not_values() -> None:
    text = json.dumps(["a,b,c,[{" * 1000])
    assert decode(text, policy_with(max_values=10)) == ["a,b,c,[{" * 1000]


def test_structure_measure_sees_through_escapes_and_unterminated_strings() -> None:
    assert measure_structure(r'["\"[", {"a\\": [1, 2]}]').depth == 3
    assert measure_structure(r'["\"[", {"a\\": [1, 2]}]').values == 6
    unterminated = '["' + '\\"' * 1000 + "[[["
    assert measure_structure(unterminated).depth == 1
    assert not measure_structure("]" + "[]" * 10 + "[").balanced


def _shape(value: Any) -> tuple[int, int]:
    """Depth and value count of a parsed JSON value, the slow and obvious way."""
    if isinstance(value, (list, dict)):
        items = list(value.values()) if isinstance(value, dict) else value
        inner = [_shape(item) for item in items]
        return 1 + max((depth for depth, _ in inner), default=0), 1 + sum(n for _, n in inner)
    return 0, 1


def test_structure_measure_agrees_with_a_parser_on_tricky_documents() -> None:
    rng = np.random.default_rng(3)
    leaves = ["", "\\", '\\"', '"[{', "a,b", "\u00e9", "caf\u00e9 \U0001f600", "]}", 1, None]

    def build(depth: int) -> Any:
        if depth == 0 or rng.random() < 0.3:
            return leaves[int(rng.integers(len(leaves)))]
        items = [build(depth - 1) for _ in range(int(rng.integers(0, 4)))]
        if rng.random() < 0.5:
            return items
        return {f"k{index},[": item for index, item in enumerate(items)}

    for _ in range(200):
        value = build(6)
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            structure = measure_structure(text)
            depth, values = _shape(json.loads(text))
            assert structure.depth == depth, text
            assert values <= structure.values, text
            assert structure.balanced


def test_structure_measure_spans_chunks() -> None:
    text = json.dumps(["x" * 1_500_000, [[]], "y\\" * 600_000, {"a": [1, 2]}])
    structure = measure_structure(text)
    assert (structure.depth, structure.values, structure.balanced) == (3, 9, True)


def _noise_dict(errors: int, sequences: int) -> dict[str, Any]:
    error = {
        "type": "qerror",
        "operations": ["x"],
        "gate_qubits": [[0]],
        "probabilities": [1.0 / sequences] * sequences,
        "instructions": [[{"name": "id", "qubits": [0]}]] * sequences,
    }
    return {"errors": [error] * errors}


def test_noise_model_error_count_is_limited_before_aer_builds_it() -> None:
    text = json.dumps({"__type__": "NoiseModel", "__value__": _noise_dict(40_000, 1)})
    with pytest.raises(DecodeBudgetExceeded, match=r"40000 errors exceed max_noise_model_errors"):
        decode(text)


def test_noise_model_instruction_count_is_limited() -> None:
    text = json.dumps({"__type__": "NoiseModel", "__value__": _noise_dict(10, 5)})
    assert decode(text, policy_with(max_noise_model_instructions=50)) is not None
    with pytest.raises(DecodeBudgetExceeded, match=r"max_noise_model_instructions 49") as info:
        decode(text, policy_with(max_noise_model_instructions=49))
    assert info.value.limit == "max_noise_model_instructions"


def test_decompressed_bytes_name_their_limit() -> None:
    value = npy_zeros_wire((1000,))
    with pytest.raises(DecodeBudgetExceeded, match=r"max_decompressed_bytes") as info:
        decode(json.dumps(value), policy_with(max_decompressed_bytes=4000))
    assert info.value.limit == "max_decompressed_bytes"


def test_budget_errors_are_decode_errors() -> None:
    assert issubclass(DecodeBudgetExceeded, DecodeError)
    with pytest.raises(DecodeError):
        decode(vector_bomb(vectors=1))
