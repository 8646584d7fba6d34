"""``qiskit.providers.ibmq.runtime``: the program-side API, re-exported from the engine."""

from engine.program import ProgramBackend, ResultDecoder, UserMessenger
from engine.serialization import RuntimeDecoder, RuntimeEncoder

__all__ = ["ProgramBackend", "ResultDecoder", "RuntimeDecoder", "RuntimeEncoder", "UserMessenger"]
