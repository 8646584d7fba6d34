"""The local executor: claims queued jobs and runs each in a sandbox on this host.

Claiming, heartbeats, cancel requests and storing are :class:`ClaimingExecutor`'s; this
module only runs one job's spec with :func:`engine.sandbox.run_job`, in a sandbox here, with
``backend.run`` answered by this process's backend registry. ``metrics["node"]`` is the
host's name.

Docker's availability is watched (:class:`~engine.sandbox.docker_watch.DockerWatch`): no
job is claimed while Docker does not answer, running jobs end ``ERROR``/``sandbox_lost`` once
it has not answered for ``sandbox_lost_seconds``, and the containers such jobs left are
removed when it answers again.
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
        docker_watch: Any = None,
        **claiming: Any,
    ) -> None:
        """``claiming``: :class:`ClaimingExecutor`'s options (limits, poll and heartbeat);
        ``docker_watch``: a :class:`~engine.sandbox.docker_watch.DockerWatch` (``None``:
        Docker is not watched)."""
        super().__init__(database, events, **claiming)
        self.registry = registry
        self.pool = pool  # a WarmPool, or None for a cold container per job
        self.docker_watch = docker_watch
        self._lost: dict[str, threading.Event] = {}  # per running job: set when Docker is lost

    def _can_claim(self) -> bool:
        watch = self.docker_watch
        if watch is None:
            return True
        up = watch.check()
        if watch.lost():
            with self._lock:
                lost = list(self._lost.values())
            for event in lost:
                event.set()
        if up:
            watch.reap(lambda job_id: job_id in self.running_jobs())
        return up

    def _execute(self, spec: JobSpec, cancel: threading.Event) -> dict[str, Any]:
        from engine.sandbox import run_job

        logs = self.log_sink(spec.job_id)
        lost = threading.Event()
        with self._lock:
            self._lost[spec.job_id] = lost
        try:
            outcome = run_job(
                spec,
                on_interim=lambda message: self.store_interim(spec.job_id, message.data),
                cancel=cancel,
                on_log=logs,
                registry=self.registry,
                pool=self.pool,
                lost=lost,
                docker_answers=self.docker_watch.ping if self.docker_watch else None,
            )
        finally:
            with self._lock:
                self._lost.pop(spec.job_id, None)
            if lost.is_set() and self.docker_watch is not None:
                self.docker_watch.reap_later()
        logs.flush()
        return final_fields(outcome_dict(outcome), socket.gethostname())

    def shutdown(self, grace: float) -> None:
        super().shutdown(grace)
        if self.pool is not None:
            self.pool.close()
