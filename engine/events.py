"""In-process wake-ups for job changes, so that waiting on a job needs no busy polling.

The executor calls :meth:`JobEvents.notify` when a job gets an interim message or reaches
its final state; :meth:`JobEvents.wait` returns as soon as that happens (or at its timeout, so
changes made by other processes sharing the store are still seen by polling).

Only the most recently changed jobs are remembered (``remembered``, 10,000), so a daemon that
runs for months holds no counter per job it ever ran. A job forgotten counts as version 0
again: whoever waits on it wakes once, reads the store, and waits again, as after any change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class JobEvents:
    """A change counter per job, with a condition to wait on."""

    def __init__(self, remembered: int = 10_000) -> None:
        self._condition = threading.Condition()
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._remembered = remembered

    def version(self, job_id: str) -> int:
        with self._condition:
            return self._versions.get(job_id, 0)

    def notify(self, job_id: str) -> None:
        with self._condition:
            self._versions[job_id] = self._versions.get(job_id, 0) + 1
            self._versions.move_to_end(job_id)
            while len(self._versions) > self._remembered:
                self._versions.popitem(last=False)
            self._condition.notify_all()

    def wait(self, job_id: str, seen: int, timeout: float) -> int:
        """Wait until the job's version differs from ``seen`` or ``timeout`` passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._versions.get(job_id, 0) != seen, timeout)
            return self._versions.get(job_id, 0)
