"""Program Engine: a sandbox and execution engine for Qiskit-Runtime-style programs.

The names below are imported lazily, so that ``import engine`` stays cheap and the sandbox
image, which carries only the sandbox-side modules, can import ``engine.program`` without
pulling in host-side code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "UserMessenger": "engine.program",
    "ProgramBackend": "engine.program",
    "ResultDecoder": "engine.program",
    "CollectingMessenger": "engine.program",
    "RuntimeEncoder": "engine.serialization",
    "RuntimeDecoder": "engine.serialization",
    "RuntimeService": "engine.service",
    "QiskitRuntimeService": "engine.service",
    "RuntimeJob": "engine.runtime_job",
    "RuntimeProgram": "engine.runtime_program",
    "ProgramMetadata": "engine.metadata",
    "validate_inputs": "engine.metadata",
    "EngineError": "engine.errors",
    "MetadataError": "engine.errors",
    "InputValidationError": "engine.errors",
    "ProgramError": "engine.errors",
    "ProgramRejected": "engine.errors",
    "DecodeError": "engine.errors",
    "EncodeError": "engine.errors",
    "SandboxUnavailable": "engine.errors",
    "BackendRejected": "engine.errors",
    "ProgramNotFound": "engine.errors",
    "ProgramNotApproved": "engine.errors",
    "JobNotFound": "engine.errors",
    "PermissionDenied": "engine.errors",
    "RuntimeJobFailure": "engine.errors",
    "RuntimeJobCancelled": "engine.errors",
    "RuntimeJobTimeout": "engine.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
