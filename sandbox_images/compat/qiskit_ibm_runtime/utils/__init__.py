"""``qiskit_ibm_runtime.utils``: the JSON encoder and decoder, from ``engine.serialization``."""

from engine.serialization import RuntimeDecoder, RuntimeEncoder

__all__ = ["RuntimeDecoder", "RuntimeEncoder"]
