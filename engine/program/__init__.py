"""What a program and its author see: the messenger, the backend contract, result decoders.

This package runs on both sides of the wall (in-process for local testing, and inside the
sandbox), so it imports nothing host-side. Names are imported on first use, so that host
code needing only :class:`ResultDecoder` does not pay for importing Qiskit.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ProgramBackend": "engine.program.backend",
    "ResultDecoder": "engine.program.result_decoder",
    "UserMessenger": "engine.program.messenger",
    "CollectingMessenger": "engine.program.messenger",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.program' has no attribute {name!r}")
    return getattr(import_module(module), name)
