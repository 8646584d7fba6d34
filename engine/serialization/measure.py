"""``measure_payload``: a cheap upper estimate of a value's encoded size, taken before encoding.

``json.dumps`` of a 200 MB string holds about three copies at once; in a 512 MB sandbox that is
an out-of-memory kill instead of an error. The sandbox runner calls this first and gets an
``EncodeError`` saying "too large" while there is still memory to report it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from engine.errors import EncodeError
from engine.serialization.policy import SerializationPolicy, default_policy

# Estimated bytes for values whose encoded size is not worth computing exactly.
_SMALL = 32
# Per circuit instruction and per Result experiment: generous averages of their encoded size.
_PER_INSTRUCTION = 64


def _base64_size(raw: int) -> int:
    return (raw + 2) // 3 * 4 + _SMALL


def _size_of_leaf(value: Any) -> int | None:
    """Encoded size of a value without children, or None if it has children."""
    if value is None or isinstance(value, (bool, int, float, complex)):
        return _SMALL
    if isinstance(value, str):
        return len(value) + 2 if value.isascii() else 6 * len(value) + 2
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _base64_size(memoryview(value).nbytes)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return None
        return _base64_size(value.nbytes + 128)
    if isinstance(value, np.generic):
        return _SMALL
    scipy_sparse = sys.modules.get("scipy.sparse")
    if scipy_sparse is not None and isinstance(
        value, (scipy_sparse.spmatrix, scipy_sparse.sparray)
    ):
        nbytes = sum(
            getattr(value, name).nbytes
            for name in ("data", "indices", "indptr", "row", "col", "offsets")
            if isinstance(getattr(value, name, None), np.ndarray)
        )
        return _base64_size(nbytes + 1024)
    if _is_circuit(value):
        return _PER_INSTRUCTION * (len(value.data) + 1)
    return None


def _is_circuit(value: Any) -> bool:
    from qiskit.circuit import QuantumCircuit

    return isinstance(value, QuantumCircuit)


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, np.ndarray):
        return value.ravel().tolist()
    for name in ("settings", "to_dict"):
        attribute = getattr(value, name, None)
        if attribute is None:
            continue
        try:
            return [attribute() if callable(attribute) else attribute]
        except Exception:
            return []
    return []


def measure_payload(
    value: Any,
    limit: int | None = None,
    *,
    max_depth: int | None = None,
    policy: SerializationPolicy | None = None,
) -> int:
    """Estimate the encoded size of ``value`` in bytes; raise ``EncodeError`` past ``limit``.

    Strings, bytes, arrays and sparse matrices count their full size (base64 where the wire
    uses it); containers count their members; circuits count per instruction; other objects
    count their ``settings`` or ``to_dict()``. The walk stops as soon as the estimate passes
    ``limit`` (default: the policy's ``max_encoded_bytes``) or the nesting passes
    ``max_depth`` (default: the policy's), so it costs at most about ``limit`` steps.
    """
    policy = policy or default_policy()
    limit = policy.limits.max_encoded_bytes if limit is None else limit
    max_depth = policy.limits.max_depth if max_depth is None else max_depth
    total = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise EncodeError(f"value nests deeper than {max_depth} levels (max_depth)")
        size = _size_of_leaf(item)
        if size is None:
            children = _children(item)
            size = 2 + len(children)
            stack.extend((child, depth + 1) for child in children)
        total += size
        if total > limit:
            raise EncodeError(
                f"value too large: its encoded size exceeds {limit} bytes (max_encoded_bytes)"
            )
    return total
