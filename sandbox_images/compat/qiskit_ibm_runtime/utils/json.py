"""``qiskit_ibm_runtime.utils.json``: the JSON encoder and decoder."""

from engine.serialization import RuntimeDecoder, RuntimeEncoder

__all__ = ["RuntimeDecoder", "RuntimeEncoder"]
