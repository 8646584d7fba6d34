"""``RuntimeDecoder``: reads the original service's JSON format as hostile input.

Use it exactly like the original: ``json.loads(text, cls=RuntimeDecoder)``. Beyond the
original it

- never unpickles: ``.npy`` data is read by a header parser that refuses object dtypes;
- rebuilds ``settings`` objects only from the policy's allowlist, and never imports a module
  or calls anything a payload names;
- inflates every compressed value with a size limit, per value and per document;
- refuses documents nested deeper than ``max_depth`` or holding more than ``max_values``
  values before the parser runs, integers longer than ``max_integer_digits``, and (if the
  policy says so) NaN and Infinity;
- keeps a decode budget per document (:mod:`engine.serialization.budget`): array bytes from
  each ``.npy`` header, ``ParameterVector`` lengths, decompressed bytes, all charged before
  the memory is allocated;
- checks QPY and noise-model headers and sizes before the libraries allocate what they
  declare.

A refused or malformed value raises :class:`~engine.errors.DecodeError` naming the type and
the rule (:class:`~engine.errors.DecodeBudgetExceeded`, with the policy key in ``limit``, when
the budget would be exceeded). An unknown ``__type__`` comes back as the plain object with a
:class:`DecodeWarning` (or raises, if the policy says ``on_unknown_type: error``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from qiskit.result import Result

from engine.errors import DecodeError
from engine.serialization import circuits, noise, sparse
from engine.serialization.binary import inflate, inflated_length, unb64
from engine.serialization.budget import Budget
from engine.serialization.npy import checked_npy_header, read_npy, read_npy_header
from engine.serialization.parameters import ParameterReader
from engine.serialization.plain import as_plain
from engine.serialization.policy import SerializationPolicy, default_policy
from engine.serialization.settings_objects import build_from_settings
from engine.serialization.structure import check_structure

_PLAIN_LEAVES = (type(None), bool, int, float, str, complex)
_MAX_DATETIME_CHARS = 64
# What one element of a list-form ndarray is charged to max_array_bytes.
_LIST_ITEM_BYTES = 8


def _plain_list(value: Any, type_name: str) -> int:
    """Check that ``value`` holds only plain leaves; return how many it holds."""
    stack = [value]
    leaves = 0
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        leaves += 1
        if not isinstance(item, _PLAIN_LEAVES):
            raise DecodeError(
                f"{type_name}: a list-form array may hold only numbers, strings, booleans and "
                f"null, not {type(item).__name__}"
            )
    return leaves


class RuntimeDecoder(json.JSONDecoder):
    """JSON decoder for everything that crosses the engine's boundaries.

    ``policy`` (a :class:`SerializationPolicy`) replaces ``policies/serialization.yaml``:
    ``json.loads(text, cls=RuntimeDecoder, policy=my_policy)``.
    """

    def __init__(self, *args: Any, policy: SerializationPolicy | None = None, **kwargs: Any):
        kwargs.pop("encoding", None)
        self.policy = policy or default_policy()
        limits = self.policy.limits
        kwargs["object_hook"] = self.object_hook
        kwargs.setdefault("parse_int", self._parse_int)
        kwargs.setdefault("parse_constant", self._parse_constant)
        if limits.non_finite_floats == "refuse":
            kwargs.setdefault("parse_float", self._parse_float)
        super().__init__(*args, **kwargs)
        self._budget = self._new_budget()
        self._parameters = ParameterReader(limits, self._budget)
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "datetime": self._datetime,
            "complex": self._complex,
            "ndarray": self._ndarray,
            "set": self._set,
            "b64bytes": self._bytes,
            "QuantumCircuit": self._circuit,
            "Parameter": self._parameter,
            "ParameterExpression": self._expression,
            "Instruction": self._instruction,
            "Result": self._result,
            "spmatrix": self._spmatrix,
            "to_json": lambda value: value,
            "NoiseModel": lambda value: noise.read_noise_model(value, self.policy.limits),
        }

    def _new_budget(self) -> Budget:
        return Budget(self.policy.limits)

    # --- the document ------------------------------------------------------------------------

    def decode(self, s: str, _w: Any = None) -> Any:  # type: ignore[override]
        """Parse one JSON document, within the policy's limits."""
        limits = self.policy.limits
        if len(s) > limits.max_text_chars:
            raise DecodeError(
                f"document of {len(s)} characters exceeds max_text_chars {limits.max_text_chars}"
            )
        check_structure(s, limits)
        self._budget = self._new_budget()
        self._parameters = ParameterReader(limits, self._budget)
        try:
            return super().decode(s) if _w is None else super().decode(s, _w)
        except RecursionError:
            raise DecodeError("document nests too deeply to decode") from None

    def _parse_int(self, text: str) -> int:
        digits = len(text) - text.startswith("-")
        limit = self.policy.limits.max_integer_digits
        if digits > limit:
            raise DecodeError(f"integer of {digits} digits exceeds max_integer_digits {limit}")
        return int(text)

    def _parse_constant(self, name: str) -> float:
        if self.policy.limits.non_finite_floats == "refuse":
            raise DecodeError(f"{name} is refused (non_finite_floats: refuse)")
        return float(name)

    def _parse_float(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise DecodeError(f"number {text[:40]} overflows a float (non_finite_floats: refuse)")
        return value

    # --- one object --------------------------------------------------------------------------

    def object_hook(self, obj: dict[str, Any]) -> Any:
        """Turn one ``{"__type__": T, "__value__": V}`` object into the value it stands for."""
        if "__type__" not in obj:
            return obj
        type_name = obj["__type__"]
        handler = self._handlers.get(type_name) if isinstance(type_name, str) else None
        if handler is None and type_name != "settings":
            if self.policy.on_unknown_type == "error":
                raise DecodeError(f"unknown __type__ {type_name!r} (on_unknown_type: error)")
            return as_plain(obj, f"unknown __type__ {type_name!r}; returned as plain data")
        if "__value__" not in obj:
            raise DecodeError(f"{type_name}: object has __type__ but no __value__")
        if type_name == "settings":
            return build_from_settings(obj, self.policy)
        return handler(obj["__value__"])  # type: ignore[misc]

    def _datetime(self, value: Any) -> datetime:
        if not isinstance(value, str) or len(value) > _MAX_DATETIME_CHARS:
            raise DecodeError("datetime: value must be an ISO 8601 string")
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise DecodeError(f"datetime: {exc}") from None

    def _complex(self, value: Any) -> complex:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(
                isinstance(part, (int, float)) and not isinstance(part, bool) for part in value
            )
        ):
            raise DecodeError("complex: value must be [real, imag], two numbers")
        return complex(value[0], value[1])

    def _ndarray(self, value: Any) -> np.ndarray:
        if isinstance(value, str):
            return read_npy(inflate(value, "ndarray", self._budget, self._charge_npy_header))
        if not isinstance(value, (list, int, float, bool, complex)):
            raise DecodeError(
                f"ndarray: value must be base64 text or a list, not {type(value).__name__}"
            )
        self._budget.charge_array(_plain_list(value, "ndarray") * _LIST_ITEM_BYTES, "ndarray")
        try:
            return np.array(value)
        except ValueError:
            pass
        try:
            ragged = np.empty(len(value), dtype=object)
            ragged[:] = value
            return ragged
        except (ValueError, TypeError) as exc:
            raise DecodeError(f"ndarray: list cannot form an array ({exc})") from None

    def _charge_npy_header(self, prefix: bytearray) -> bool:
        header = read_npy_header(prefix, "ndarray")
        if header is None:
            return False
        self._budget.charge_array(header.nbytes, "ndarray")
        return True

    def _set(self, value: Any) -> set[Any]:
        if not isinstance(value, list):
            raise DecodeError("set: value must be a list")
        try:
            return set(value)
        except TypeError as exc:
            raise DecodeError(f"set: members must be hashable ({exc})") from None

    def _bytes(self, value: Any) -> bytes:
        return unb64(value, "b64bytes", self._budget)

    def _circuit(self, value: Any) -> Any:
        return circuits.read_circuit(
            inflate(value, "QuantumCircuit", self._budget), self.policy, "QuantumCircuit"
        )

    def _instruction(self, value: Any) -> Any:
        return circuits.read_instruction(inflate(value, "Instruction", self._budget), self.policy)

    def _parameter(self, value: Any) -> Any:
        return self._parameters.parameter(unb64(value, "Parameter", self._budget))

    def _expression(self, value: Any) -> Any:
        return self._parameters.expression(unb64(value, "ParameterExpression", self._budget))

    def _result(self, value: Any) -> Result:
        if not isinstance(value, dict) or not isinstance(value.get("results"), list):
            raise DecodeError("Result: value must be an object with a results list")
        try:
            return Result.from_dict(value)
        except Exception as exc:
            raise DecodeError(f"Result: {type(exc).__name__}: {exc}") from None

    def _spmatrix(self, value: Any) -> Any:
        return sparse.read_npz(unb64(value, "spmatrix", self._budget), self._budget)


class CheckingDecoder(RuntimeDecoder):
    """A :class:`RuntimeDecoder` for checking a payload that is then dropped.

    It refuses exactly what :class:`RuntimeDecoder` refuses, but inflates each compressed
    array without keeping its bytes and stands a zero-filled array of the declared shape in
    its place (its pages are not touched, so it takes no memory): checking a large result
    then costs its text, not its text and its array."""

    def _ndarray(self, value: Any) -> np.ndarray:
        if not isinstance(value, str):
            return super()._ndarray(value)
        prefix, length = inflated_length(value, "ndarray", self._budget, self._charge_npy_header)
        header = checked_npy_header(prefix, length)
        order = "F" if header.fortran_order else "C"
        return np.zeros(header.shape, dtype=header.dtype, order=order)
