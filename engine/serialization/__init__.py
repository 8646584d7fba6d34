"""``RuntimeEncoder`` and ``RuntimeDecoder``: the data format that crosses every boundary.

Wire-compatible with the original service's ``{"__type__": T, "__value__": V}`` format, and
safe to decode from untrusted sources: see :mod:`engine.serialization.decoder` for what is
refused and ``policies/serialization.yaml`` for the limits and the ``settings`` allowlist.
This package runs inside the sandbox too; it imports SciPy and Aer only when it meets them.
"""

from engine.serialization.decoder import RuntimeDecoder
from engine.serialization.encoder import RuntimeEncoder
from engine.serialization.measure import measure_payload
from engine.serialization.payload import check_payload
from engine.serialization.plain import DecodeWarning
from engine.serialization.policy import (
    SerializationPolicy,
    SettingsClass,
    default_policy,
    load_policy_file,
    parse_policy,
)

__all__ = [
    "DecodeWarning",
    "RuntimeDecoder",
    "RuntimeEncoder",
    "SerializationPolicy",
    "SettingsClass",
    "check_payload",
    "default_policy",
    "load_policy_file",
    "measure_payload",
    "parse_policy",
]
