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
        max_concurrent_jobs: int,
        max_running_per_user: int | None,
        poll_seconds: float,
        heartbeat_seconds: float,
        registry: Any = None,
        pool: Any = None,
        worker_id: str | None = None,
    ) -> None:
        super().__init__(
            database,
            events,
            max_concurrent_jobs=max_concurrent_jobs,
            max_running_per_user=max_running_per_user,
            poll_seconds=poll_seconds,
            heartbeat_seconds=heartbeat_seconds,
            worker_id=worker_id,
        )
        self.registry = registry
        self.pool = pool  # a WarmPool, or None for a cold container per job

    def _execute(self, spec: JobSpec, cancel: threading.Event) -> dict[str, Any]:
        from engine.sandbox import run_job

        outcome = run_job(
            spec,
            on_interim=lambda message: self.store_interim(spec.job_id, message.data),
            cancel=cancel,
            registry=self.registry,
            pool=self.pool,
        )
        return final_fields(outcome_dict(outcome), socket.gethostname())

    def shutdown(self, grace: float) -> None:
        super().shutdown(grace)
        if self.pool is not None:
            self.pool.close()
