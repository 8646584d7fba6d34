"""Executors run queued jobs: they claim jobs from the store and drive their sandboxes.

Every executor has the same small interface (:class:`Executor`); the service above it does
not know which one it has. :class:`~engine.executors.local.LocalExecutor` runs sandboxes on
this host, at most ``max_concurrent_jobs`` at once.
"""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    """What the service needs from an executor."""

    def start(self) -> None:
        """Begin taking queued jobs."""

    def wake(self) -> None:
        """A job was queued or finished: look for work now rather than at the next poll."""

    def cancel(self, job_id: str) -> None:
        """Stop a job this executor is running (a no-op for jobs it does not hold)."""

    def shutdown(self, grace: float) -> None:
        """Stop taking jobs; let running ones finish for ``grace`` seconds, then cancel them."""
