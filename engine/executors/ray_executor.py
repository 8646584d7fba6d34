"""The Ray executor: claims queued jobs and runs each as one task on a Ray cluster.

Claiming, heartbeats, cancel requests and storing are :class:`ClaimingExecutor`'s, exactly
as for the local executor; only where a job runs differs. Each job is one streaming task
(:data:`~engine.executors.ray_task.TASK_OPTIONS`: ``max_retries=0``, ``num_cpus=0``, one unit
of the ``sandbox_host`` resource, ``SPREAD``) that runs the sandbox on its node and yields
the job's interim messages and outcome; the dispatcher stores them as they arrive.

* **Cancel**: ``ray.cancel`` (soft: the task stops its sandbox and removes the container), then
  ``force=True`` after ``cancel_grace_seconds``.
* **A node lost mid-job** (``NodeDiedError``, ``WorkerCrashedError``, ...) ends the job
  ``ERROR`` with reason ``node_lost``, as soon as Ray reports it.
* **Reapers**: one detached :class:`~engine.executors.ray_task.SandboxReaper` actor per
  node that advertises ``sandbox_host``, started (when missing) every ``reaper_seconds``.

The executor connects to an existing cluster (``address``, ``HOST:PORT``); it never starts
one, so that nothing Ray starts runs where the operator did not put it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from engine.errors import ConfigurationError, SandboxUnavailable
from engine.events import JobEvents
from engine.executors.claiming import ClaimingExecutor, error_fields, final_fields
from engine.executors.ray_task import (
    NAMESPACE,
    SANDBOX_RESOURCE,
    TASK_OPTIONS,
    SandboxReaper,
    run_job_task,
)
from engine.job_spec import JobSpec
from engine.records import JobStatus, Reason
from engine.store import Database

log = logging.getLogger(__name__)

REAPER_PREFIX = "sandbox-reaper-"


def _lost_node_errors() -> tuple[type[BaseException], ...]:
    from ray import exceptions

    names = ("NodeDiedError", "WorkerCrashedError", "ActorDiedError", "OwnerDiedError",
             "ObjectLostError", "LocalRayletDiedError", "RaySystemError")
    return tuple(getattr(exceptions, name) for name in names if hasattr(exceptions, name))


class RayExecutor(ClaimingExecutor):
    """Runs jobs from the store as tasks on the Ray cluster at ``address``."""

    def __init__(
        self,
        database: Database,
        events: JobEvents,
        *,
        address: str | None,
        cancel_grace_seconds: float,
        reaper_seconds: float,
        **claiming: Any,
    ) -> None:
        """``claiming``: :class:`ClaimingExecutor`'s options (limits, poll and heartbeat)."""
        if not address:
            raise ConfigurationError(
                "ray_address: the Ray executor needs the cluster's HOST:PORT "
                "(RuntimeService(ray_address=...) or ENGINE_RAY_ADDRESS)"
            )
        super().__init__(database, events, **claiming)
        self.address = address
        self.cancel_grace_seconds = cancel_grace_seconds
        self.reaper_seconds = reaper_seconds
        self._tasks: dict[str, Any] = {}
        self._remote: Any = None
        self._connected_here = False
        self._last_reaper_check = 0.0

    # --- the Executor interface --------------------------------------------------------------

    def start(self) -> None:
        if self._remote is None:
            self._connect()
        super().start()

    def cancel(self, job_id: str) -> None:
        """Soft-cancel the job's task now, and force it after the grace period."""
        super().cancel(job_id)
        with self._lock:
            task = self._tasks.get(job_id)
        if task is None:
            return
        import ray

        try:
            ray.cancel(task)
        except Exception:  # the task may have ended meanwhile
            log.debug("soft cancel of job %s failed", job_id, exc_info=True)
        timer = threading.Timer(self.cancel_grace_seconds, self._force_cancel, args=(job_id,))
        timer.daemon = True
        timer.start()

    def shutdown(self, grace: float) -> None:
        super().shutdown(grace)
        if self._connected_here:
            import ray

            ray.shutdown()
            self._connected_here = False

    # --- connection and reapers --------------------------------------------------------------

    def _connect(self) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError(
                "executor 'ray' needs Ray: pip install 'program-engine[ray]'"
            ) from exc
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address,
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except Exception as exc:  # ConnectionError, or a refused token
                raise SandboxUnavailable(
                    f"ray_address: cannot connect to the Ray cluster at {self.address}: {exc}"
                ) from exc
            self._connected_here = True
        self._remote = ray.remote(**TASK_OPTIONS)(run_job_task)
        self.ensure_reapers()

    def ensure_reapers(self) -> list[str]:
        """Start a reaper on every live ``sandbox_host`` node that has none; the node ids."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        reaper = ray.remote(SandboxReaper)
        nodes = []
        for node in ray.nodes():
            if not node.get("Alive") or SANDBOX_RESOURCE not in node.get("Resources", {}):
                continue
            node_id = node["NodeID"]
            reaper.options(
                name=REAPER_PREFIX + node_id,
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=0,
                max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(self.reaper_seconds)
            nodes.append(node_id)
        self._last_reaper_check = time.monotonic()
        return nodes

    def _watch_running(self) -> None:
        super()._watch_running()
        if time.monotonic() - self._last_reaper_check >= self.reaper_seconds:
            try:
                self.ensure_reapers()
            except Exception:  # the cluster briefly unreachable: try again later
                log.warning("could not check the sandbox reapers", exc_info=True)
                self._last_reaper_check = time.monotonic()

    # --- one job -----------------------------------------------------------------------------

    def _execute(self, spec: JobSpec, cancel: threading.Event) -> dict[str, Any]:
        import ray
        from ray.exceptions import TaskCancelledError

        job_id = spec.job_id
        task = self._remote.remote(spec)
        with self._lock:
            self._tasks[job_id] = task
        if cancel.is_set():  # cancelled between the claim and the submission
            self.cancel(job_id)
        node: str | None = None
        logs = self.log_sink(job_id)
        try:
            for ref in task:
                kind, data = ray.get(ref)
                if kind == "started":
                    node = str(data["node"])
                elif kind == "interim":
                    self.store_interim(job_id, data)
                elif kind == "log":
                    logs(data)
                elif kind == "final":
                    logs.flush()
                    return final_fields(data, str(data["metrics"].get("node") or node))
            return error_fields(Reason.ENGINE_ERROR, RuntimeError("the job's task ended without an "
                                                           "outcome"), node)
        except (TaskCancelledError, *_lost_node_errors()) as exc:
            if cancel.is_set():
                fields = error_fields(Reason.USER, exc, node)
                fields.update(status=JobStatus.CANCELLED,
                              error_message="cancelled while running on the Ray cluster")
                return fields
            log.warning("job %s lost its Ray node %s: %s", job_id, node, exc)
            fields = error_fields(Reason.NODE_LOST, exc, node)
            fields["error_message"] = f"the Ray node running the job was lost: {exc}"[:2000]
            return fields
        finally:
            with self._lock:
                self._tasks.pop(job_id, None)

    def _force_cancel(self, job_id: str) -> None:
        with self._lock:
            task = self._tasks.get(job_id)
        if task is None:
            return
        import ray

        log.warning("job %s did not stop within %.0f s; forcing", job_id,
                    self.cancel_grace_seconds)
        try:
            ray.cancel(task, force=True)
        except Exception:
            log.debug("force cancel of job %s failed", job_id, exc_info=True)
