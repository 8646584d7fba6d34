"""``qiskit.providers.ibmq.runtime.program``: the program-side API from ``engine.program``."""

from engine.program import ProgramBackend, ResultDecoder, UserMessenger

__all__ = ["ProgramBackend", "ResultDecoder", "UserMessenger"]
