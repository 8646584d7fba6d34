"""``RuntimeEncoder``: the original service's JSON encoder, type for type.

Each special value becomes ``{"__type__": T, "__value__": V}``. Binary values are base64 text;
ndarrays, circuits and instructions are zlib-compressed first, parameters, sparse matrices
(already a compressed ``.npz``) and ``b64bytes`` are not, as in the original client.
The order of the checks is the original's, since it decides which form an object that fits
several takes (an object with ``to_json`` is written that way even if it has ``settings``).
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import date
from typing import Any

import numpy as np
from qiskit.circuit import Instruction, Parameter, ParameterExpression, QuantumCircuit
from qiskit.circuit.parametertable import ParameterView
from qiskit.result import Result
from qiskit.transpiler import CouplingMap

from engine.errors import EncodeError
from engine.serialization import binary, circuits, parameters, sparse
from engine.serialization.npy import npy_chunks
from engine.serialization.policy import SerializationPolicy, default_policy
from engine.serialization.settings_objects import flag_int_keys

# Container levels written item by item before the C encoder takes a whole member.
_WRITE_DEPTH = 4
# How often ``default`` may replace a value by another non-JSON value in a row.
_MAX_DEFAULT_STEPS = 8
_JSON_NATIVE = (dict, list, tuple, str, int, float, bool, type(None))


def _wrap(type_name: str, value: Any) -> dict[str, Any]:
    return {"__type__": type_name, "__value__": value}


class RuntimeEncoder(json.JSONEncoder):
    """JSON encoder for program inputs, interim results and results.

    Use it as ``json.dumps(value, cls=RuntimeEncoder)``; a custom policy can be passed as
    ``json.dumps(value, cls=RuntimeEncoder, policy=policy)``.
    """

    def __init__(self, *args: Any, policy: SerializationPolicy | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._policy = policy

    @property
    def policy(self) -> SerializationPolicy:
        if self._policy is None:
            self._policy = default_policy()
        return self._policy

    def encode(self, o: Any) -> str:
        """The JSON text of ``o``, exactly as ``json.JSONEncoder.encode`` would write it.

        The standard encoder holds one small string per token until it joins them, about
        ten times the output for count-heavy results. So the top levels of containers are
        written here item by item, and only their members go through the C encoder at once.
        """
        if self.indent is not None:
            return self._encode_whole(o)
        pieces: list[str] = []
        self._write(o, pieces, 0)
        return "".join(pieces)

    def _encode_whole(self, o: Any) -> str:
        try:
            return super().encode(o)
        except RecursionError:
            raise EncodeError(
                "value nests too deeply to encode (Python's recursion limit)"
            ) from None

    def _write(self, o: Any, pieces: list[str], depth: int) -> None:
        if isinstance(o, binary.B64Text):
            pieces.append('"')
            pieces.extend(o.pieces)
            pieces.append('"')
            return
        for _ in range(_MAX_DEFAULT_STEPS):
            if isinstance(o, _JSON_NATIVE):
                break
            o = self.default(o)
        if (
            depth >= _WRITE_DEPTH
            or not isinstance(o, (dict, list, tuple))
            or len(o) < 2
            or (isinstance(o, dict) and not all(type(key) is str for key in o))
        ):
            pieces.append(self._encode_whole(o))
            return
        if isinstance(o, dict):
            items = sorted(o.items()) if self.sort_keys else o.items()
            pieces.append("{")
            for number, (key, value) in enumerate(items):
                if number:
                    pieces.append(self.item_separator)
                pieces.append(self._encode_whole(key))
                pieces.append(self.key_separator)
                self._write(value, pieces, depth + 1)
            pieces.append("}")
            return
        pieces.append("[")
        for number, value in enumerate(o):
            if number:
                pieces.append(self.item_separator)
            self._write(value, pieces, depth + 1)
        pieces.append("]")

    def default(self, obj: Any) -> Any:
        if isinstance(obj, binary.B64Text):
            return str(obj)
        if isinstance(obj, CouplingMap):
            return list(obj)
        if isinstance(obj, date):
            return _wrap("datetime", obj.isoformat())
        if isinstance(obj, complex):
            return _wrap("complex", [obj.real, obj.imag])
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                return _wrap("ndarray", obj.tolist())
            chunks = npy_chunks(obj)
            return _wrap("ndarray", binary.compressed_b64(chunks, self.policy.wire.zlib_level))
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, (set, frozenset)):
            return _wrap("set", list(obj))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return _wrap("b64bytes", binary.b64_text(obj))
        if isinstance(obj, Result):
            return _wrap("Result", obj.to_dict())
        if hasattr(obj, "to_json"):
            return _wrap("to_json", obj.to_json())
        if isinstance(obj, QuantumCircuit):
            data = circuits.write_circuit(obj, self.policy, RuntimeEncoder)
            return _wrap(
                "QuantumCircuit", binary.compressed_b64([data], self.policy.wire.zlib_level)
            )
        if isinstance(obj, Parameter):
            return _wrap("Parameter", binary.b64_text(parameters.parameter_record(obj)))
        if isinstance(obj, ParameterExpression):
            return _wrap("ParameterExpression", binary.b64_text(parameters.expression_record(obj)))
        if isinstance(obj, ParameterView):
            return list(obj)
        if isinstance(obj, Instruction):
            circuit = circuits.instruction_circuit(obj)
            data = circuits.write_circuit(circuit, self.policy, None)
            return _wrap("Instruction", binary.compressed_b64([data], self.policy.wire.zlib_level))
        noise_model = _noise_model_dict(obj)
        if noise_model is not None:
            return _wrap("NoiseModel", noise_model)
        if hasattr(obj, "settings"):
            return {
                "__type__": "settings",
                "__module__": type(obj).__module__,
                "__class__": type(obj).__name__,
                "__value__": flag_int_keys(obj.settings),
            }
        if callable(obj):
            warnings.warn(
                f"Callable {obj} is not JSON serializable and will be set to None.", stacklevel=3
            )
            return None
        if sparse.is_sparse(obj):
            return _wrap("spmatrix", binary.b64_text(sparse.write_npz(obj)))
        raise EncodeError(
            f"Object of type {type(obj).__name__} is not JSON serializable by RuntimeEncoder"
        )


def _noise_model_dict(obj: Any) -> dict[str, Any] | None:
    """``obj.to_dict()`` if ``obj`` is an Aer NoiseModel (Aer is not imported for the check)."""
    aer_noise = sys.modules.get("qiskit_aer.noise")
    if aer_noise is None or not isinstance(obj, aer_noise.NoiseModel):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return obj.to_dict()
