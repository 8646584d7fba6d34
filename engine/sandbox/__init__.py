"""Running a program inside a locked-down container.

The public entry point is :func:`run_job`, which runs one checked
:class:`~engine.job_spec.JobSpec` and returns an :class:`Outcome`. Names are
imported lazily: the container image carries only ``engine.sandbox.runner`` of this package,
and ``python -m engine.sandbox.runner`` imports this file first.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "run_job": "engine.sandbox.execution",
    "Outcome": "engine.sandbox.execution",
    "ErrorInfo": "engine.sandbox.execution",
    "InterimMessage": "engine.sandbox.execution",
    "SandboxPolicy": "engine.sandbox.policy",
    "ResourceProfile": "engine.sandbox.policy",
    "load_sandbox_policy": "engine.sandbox.policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.sandbox' has no attribute {name!r}")
    return getattr(import_module(module), name)
