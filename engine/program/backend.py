"""``ProgramBackend``: the backend contract a program's ``main`` receives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from qiskit.providers import BackendV2


class ProgramBackend(BackendV2, ABC):
    """A Qiskit ``BackendV2`` whose ``run`` returns a job with ``result()``.

    In the sandbox the backend is a proxy carrying the host backend's ``Target``, so
    ``transpile(circuit, backend)`` works inside and ``run`` is served on the host.
    """

    @abstractmethod
    def run(self, circuits: Any, timeout: float | None = None, **run_config: Any) -> Any:
        """Run ``circuits`` (one or a list) and return a job whose ``result()`` waits for them."""
