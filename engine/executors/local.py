"""The local executor: claims queued jobs and runs each in a sandbox on this host.

Claiming, heartbeats, cancel requests and storing are :class:`ClaimingExecutor`'s; this
module only runs one job's spec with :func:`engine.sandbox.run_job`, in a sandbox here, with
``backend.run`` answered by this process's backend registry. ``metrics["node"]`` is the
host's name.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from engine.events import JobEvents
from engine.executors.claiming import ClaimingExecutor, final_fields, outcome_dict
from engine.job_spec import JobSpec
from engine.store import Database


class LocalExecutor(ClaimingExecutor):
    """Runs jobs from the store in sandboxes on this host."""

    def __init__(
        self,
        database: Database,
        events: JobEvents,
        *,
        registry: Any = None,
        pool: Any = None,
        **claiming: Any,
    ) -> None:
        """``claiming``: :class:`ClaimingExecutor`'s options (limits, poll and heartbeat)."""
        super().__init__(database, events, **claiming)
        self.registry = registry
        self.pool = pool  # a WarmPool, or None for a cold container per job

    def _execute(self, spec: JobSpec, cancel: threading.Event) -> dict[str, Any]:
        from engine.sandbox import run_job

        logs = self.log_sink(spec.job_id)
        outcome = run_job(
            spec,
            on_interim=lambda message: self.store_interim(spec.job_id, message.data),
            cancel=cancel,
            on_log=logs,
            registry=self.registry,
            pool=self.pool,
        )
        logs.flush()
        return final_fields(outcome_dict(outcome), socket.gethostname())

    def shutdown(self, grace: float) -> None:
        super().shutdown(grace)
        if self.pool is not None:
            self.pool.close()
