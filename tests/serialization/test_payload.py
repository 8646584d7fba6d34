"""``check_payload``: what the host refuses in a result or interim text before storing it."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import zlib
from typing import Any

import numpy as np
import pytest

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization import RuntimeEncoder, SerializationPolicy, default_policy
from engine.serialization.binary import inflated_length
from engine.serialization.decoder import CheckingDecoder, RuntimeDecoder
from engine.serialization.npy import checked_npy_header
from engine.serialization.payload import check_payload, lone_surrogate_at, scrub_text
from tests.serialization.bombs import array_bomb, npy_zeros_wire, vector_bomb

DEEP = "[" * 200_000 + "]" * 200_000


def policy_with(**limits: Any) -> SerializationPolicy:
    base = default_policy()
    return base.model_copy(update={"limits": base.limits.model_copy(update=limits)})


@pytest.mark.parametrize(
    "text",
    [
        '"\ud800"',  # raw: the string already holds the surrogate
        '"\udc00 after"',
        r'"\ud800"',  # escaped: json.loads would make the surrogate
        r'{"key \udfff": 1}',
        r'["\ud83d"]',  # a high surrogate without its low half
        r'["\ude00\ud83d"]',  # the halves in the wrong order
        r'["\\\ud800"]',  # an escaped backslash, then a real escape
    ],
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(DecodeError, match=r"lone surrogate .* not valid UTF-8"):
        check_payload(text, trial_decode=True)


def test_an_escaped_lone_surrogate_is_what_sqlite_cannot_store() -> None:
    value = json.loads(r'"\ud800"')
    with sqlite3.connect(":memory:") as db, pytest.raises(UnicodeEncodeError):
        db.execute("select ?", (value,))


@pytest.mark.parametrize(
    "text",
    [
        r'["\ud83d\ude00"]',  # a proper pair: one emoji, as json.dumps writes it
        json.dumps("emoji \U0001f600 and text"),
        r'["\\ud800"]',  # an escaped backslash followed by the letters ud800
        json.dumps({"\\ud800": "\\udc00"}),
    ],
)
def test_proper_pairs_and_escaped_backslashes_pass(text: str) -> None:
    check_payload(text, trial_decode=True)
    assert lone_surrogate_at(text) is None


def test_scrub_text_replaces_raw_surrogates() -> None:
    assert scrub_text("a\ud800b") == "a\ufffdb"
    assert scrub_text("plain") == "plain"


@pytest.mark.parametrize("text", ["not json", "{'single': 'quotes'}", '{"a": 1', "[1, 2,]", ""])
def test_non_json_is_refused_by_the_trial_decode(text: str) -> None:
    with pytest.raises(DecodeError, match=r"not valid JSON"):
        check_payload(text, trial_decode=True)


def test_200000_deep_nesting_is_refused_without_recursion() -> None:
    for trial in (False, True):
        with pytest.raises(DecodeBudgetExceeded, match=r"deeper than max_depth 100") as info:
            check_payload(DEEP, trial_decode=trial)
        assert info.value.limit == "max_depth"


def test_oversized_payload_is_refused_before_anything_else() -> None:
    with pytest.raises(DecodeBudgetExceeded, match=r"exceeds max_text_chars 100") as info:
        check_payload('"' + "x" * 200 + '"', policy_with(max_text_chars=100))
    assert info.value.limit == "max_text_chars"


def test_too_many_values_are_refused_cheaply() -> None:
    with pytest.raises(DecodeBudgetExceeded, match=r"max_values 100"):
        check_payload(json.dumps(list(range(200))), policy_with(max_values=100))


def test_bombs_pass_the_cheap_checks_but_not_the_trial_decode() -> None:
    for bomb in (vector_bomb(), array_bomb()):
        check_payload(bomb)  # an interim: kept encoded, refused when read
        with pytest.raises(DecodeBudgetExceeded):
            check_payload(bomb, trial_decode=True)


def test_a_valid_result_passes() -> None:
    text = json.dumps({"counts": {"00": 510, "11": 514}, "values": np.arange(10.0),
                       "label": "caf\u00e9 \U0001f600", "nested": [[[1]]]}, cls=RuntimeEncoder)
    check_payload(text, trial_decode=True)


def test_a_legitimately_large_array_within_budget_passes() -> None:
    text = json.dumps({"big": npy_zeros_wire((4 << 20,))})  # 32 MiB of float64
    check_payload(text, trial_decode=True)


def test_whatever_the_decoder_raises_becomes_a_decode_error() -> None:
    text = json.dumps({"__type__": "complex", "__value__": "not a pair"})
    with pytest.raises(DecodeError, match=r"complex: value must be"):
        check_payload(text, trial_decode=True)


def _ndarray_wire(npy: bytes, *, cut: int = 0) -> str:
    packed = zlib.compress(npy)
    return json.dumps({"__type__": "ndarray",
                       "__value__": base64.b64encode(packed[: len(packed) - cut]).decode()})


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _object_header() -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|O", "fortran_order": False, "shape": (2,)})
    return buffer.getvalue()


_GOOD = _npy(np.arange(1000, dtype="<f8").reshape(10, 100))
_FORTRAN = _npy(np.asfortranarray(np.ones((3, 5), dtype="<i4")))


@pytest.mark.parametrize(
    "text",
    [
        _ndarray_wire(b"NOTNPY" + _GOOD[6:]),  # bad magic
        _ndarray_wire(_GOOD[:-8]),  # the header declares more data than follows
        _ndarray_wire(_GOOD + b"\0" * 8),  # more data than the header declares
        _ndarray_wire(_GOOD[:20]),  # the header itself is cut short
        _ndarray_wire(_GOOD, cut=4),  # the zlib stream is truncated
        _ndarray_wire(_object_header() + b"\0" * 16),  # an array of pickled objects
    ],
)
def test_the_checking_decoder_refuses_what_the_decoder_refuses(text: str) -> None:
    with pytest.raises(DecodeError) as full:
        json.loads(text, cls=RuntimeDecoder)
    with pytest.raises(DecodeError) as checking:
        json.loads(text, cls=CheckingDecoder)
    assert str(checking.value) == str(full.value)


@pytest.mark.parametrize("npy", [_GOOD, _FORTRAN])
def test_the_checking_decoder_stands_zeros_of_the_same_shape_for_an_array(npy: bytes) -> None:
    decoded = json.loads(_ndarray_wire(npy), cls=RuntimeDecoder)
    checked = json.loads(_ndarray_wire(npy), cls=CheckingDecoder)
    assert (checked.shape, checked.dtype) == (decoded.shape, decoded.dtype)
    assert checked.flags.f_contiguous == decoded.flags.f_contiguous
    assert not checked.any()


def test_counting_an_inflated_value_keeps_only_its_header() -> None:
    npy = _npy(np.zeros(4 << 20))  # 32 MiB
    packed = base64.b64encode(zlib.compress(npy)).decode()
    decoder = RuntimeDecoder()
    prefix, length = inflated_length(packed, "ndarray", decoder._new_budget(),
                                      decoder._charge_npy_header)
    assert length == len(npy)
    assert len(prefix) <= 1 << 16
    assert checked_npy_header(prefix, length).shape == (4 << 20,)
