"""In-process wake-ups for job changes, so that waiting on a job needs no busy polling.

The executor calls :meth:`JobEvents.notify` when a job gets an interim message or reaches
its final state; :meth:`JobEvents.wait` returns as soon as that happens (or at its timeout, so
changes made by other processes sharing the store are still seen by polling).
"""

from __future__ import annotations

import threading


class JobEvents:
    """A change counter per job, with a condition to wait on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._versions: dict[str, int] = {}

    def version(self, job_id: str) -> int:
        with self._condition:
            return self._versions.get(job_id, 0)

    def notify(self, job_id: str) -> None:
        with self._condition:
            self._versions[job_id] = self._versions.get(job_id, 0) + 1
            self._condition.notify_all()

    def wait(self, job_id: str, seen: int, timeout: float) -> int:
        """Wait until the job's version differs from ``seen`` or ``timeout`` passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._versions.get(job_id, 0) != seen, timeout)
            return self._versions.get(job_id, 0)

    def forget(self, job_id: str) -> None:
        with self._condition:
            self._versions.pop(job_id, None)
