"""``RuntimeEncoder`` and ``RuntimeDecoder``: the data format that crosses every boundary.

Wire-compatible with the original service's ``{"__type__": T, "__value__": V}`` format, and
safe to decode from untrusted sources: see :mod:`engine.serialization.decoder` for what is
refused and ``policies/serialization.yaml`` for the limits and the ``settings`` allowlist.
This package runs inside the sandbox too; it imports SciPy and Aer only when it meets them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use: the policy and the plain-JSON helpers do not need Qiskit or NumPy;
# only the encoder and the decoder do.
_EXPORTS = {
    "RuntimeDecoder": "engine.serialization.decoder",
    "RuntimeEncoder": "engine.serialization.encoder",
    "measure_payload": "engine.serialization.measure",
    "check_payload": "engine.serialization.payload",
    "DecodeWarning": "engine.serialization.plain",
    "SerializationPolicy": "engine.serialization.policy",
    "SettingsClass": "engine.serialization.policy",
    "default_policy": "engine.serialization.policy",
    "load_policy_file": "engine.serialization.policy",
    "parse_policy": "engine.serialization.policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
