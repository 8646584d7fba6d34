"""``qiskit_ibm_runtime`` as programs written for the original service see it in the sandbox.

Only what a program needs at run time is here, re-exported from the engine: ``UserMessenger``,
``ProgramBackend``, ``ResultDecoder``, ``RuntimeEncoder`` and ``RuntimeDecoder``. The client
side of the original package (``QiskitRuntimeService`` and friends) has no meaning inside the
sandbox, and asking for it raises an ``AttributeError`` that says so.
"""

from engine.program import ProgramBackend, ResultDecoder, UserMessenger
from engine.serialization import RuntimeDecoder, RuntimeEncoder

__all__ = ["ProgramBackend", "ResultDecoder", "RuntimeDecoder", "RuntimeEncoder", "UserMessenger"]


def __getattr__(name: str) -> object:
    raise AttributeError(
        f"qiskit_ibm_runtime.{name} is not available inside the sandbox; "
        f"a program may use {', '.join(__all__)}"
    )
