"""The local executor: claims queued jobs and runs each in a sandbox on this host.

Claiming, heartbeats, cancel requests and storing are :class:`ClaimingExecutor`'s; this
module only runs one job: its program version from the store, in a sandbox here, with
``backend.run`` answered by this process's backend registry. ``metrics["node"]`` is the
host's name.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from engine.events import JobEvents
from engine.executors.claiming import (
    ENGINE_ERROR,
    ENGINE_SHUTDOWN,
    PROGRAM_DELETED,
    SANDBOX_UNAVAILABLE,
    ClaimingExecutor,
    final_fields,
    outcome_dict,
)
from engine.store import Database, JobRecord

__all__ = [
    "ENGINE_ERROR",
    "ENGINE_SHUTDOWN",
    "PROGRAM_DELETED",
    "SANDBOX_UNAVAILABLE",
    "LocalExecutor",
]


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

    def _execute(self, job: JobRecord, cancel: threading.Event) -> dict[str, Any]:
        from engine.metadata import load_metadata
        from engine.program.loader import program_from_files
        from engine.sandbox import run_program
        from engine.serialization import RuntimeDecoder

        version = self.program_version(job)
        metadata = load_metadata(version.metadata)
        source = program_from_files(version.entry, version.files, metadata)
        outcome = run_program(
            source,
            json.loads(job.inputs, cls=RuntimeDecoder),
            backend=job.backend,
            metadata=metadata,
            profile=job.profile,
            on_interim=lambda message: self.store_interim(job.id, message.data),
            cancel=cancel,
            job_id=job.id,
            registry=self.registry,
            pool=self.pool,
        )
        return final_fields(outcome_dict(outcome), socket.gethostname())

    def shutdown(self, grace: float) -> None:
        super().shutdown(grace)
        if self.pool is not None:
            self.pool.close()
