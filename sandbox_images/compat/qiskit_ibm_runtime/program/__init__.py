"""``qiskit_ibm_runtime.program``: the program-side API, re-exported from ``engine.program``."""

from engine.program import ProgramBackend, ResultDecoder, UserMessenger

__all__ = ["ProgramBackend", "ResultDecoder", "UserMessenger"]
