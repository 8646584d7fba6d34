"""What runs on a Ray node: one job's sandbox as a streaming task, and the node's reaper.

This module is imported by Ray workers, so every node needs the engine installed (the same
version as the dispatcher). :func:`run_job_task` gets the job's
:class:`~engine.job_spec.JobSpec` as its one argument and runs it with
:func:`engine.sandbox.run_job` on its node, with ``backend.run`` answered by that node's
simulator, and yields plain data back to the dispatcher, in order:

* ``("started", {"node": NODE_ID})`` once the task runs;
* ``("interim", DATA)`` for each interim message, as the sandbox encoded it (already
  validated and size-limited by the sandbox relay on the node);
* ``("log", TEXT)`` for what the program prints, as it prints it (within the log cap);
* ``("final", OUTCOME)`` at the end: ``Outcome`` as plain data, ``metrics["node"]`` included.

A soft ``ray.cancel`` arrives as ``KeyboardInterrupt``: the task sets ``run_job``'s cancel
event, so the container is removed before the task ends. A force cancel or a dead node leaves
the container behind; :class:`SandboxReaper`, one per node, removes containers whose creating
process is gone (Ray does not kill them: they are the Docker daemon's children, not its own).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from engine.executors.claiming import outcome_dict
from engine.job_spec import JobSpec

log = logging.getLogger(__name__)

#: The custom resource a node advertises, one unit per sandbox it may run at once.
SANDBOX_RESOURCE = "sandbox_host"
#: The Ray namespace of the engine's named actors.
NAMESPACE = "program-engine"
#: Options of the job task: see the README's "Scaling out" section for why each is so.
TASK_OPTIONS: dict[str, Any] = {
    "num_returns": "streaming",
    "max_retries": 0,  # untrusted code never silently runs twice
    "num_cpus": 0,  # the sandbox's CPU quota is Docker's business, not Ray's
    "resources": {SANDBOX_RESOURCE: 1},
    "scheduling_strategy": "SPREAD",  # Ray's default piles tasks onto the driver's node
}
# How long the task waits, after a cancel, for run_job to remove its container.
_CANCEL_JOIN_SECONDS = 60.0
_QUEUE_POLL_SECONDS = 0.25


def node_id() -> str:
    """The id of the Ray node this code runs on."""
    import ray

    return ray.get_runtime_context().get_node_id()


def run_job_task(spec: JobSpec) -> Iterator[tuple[str, Any]]:
    """Run one job's sandbox on this node, yielding its messages (see the module doc)."""
    node = node_id()
    yield ("started", {"node": node})
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancel = threading.Event()
    worker = threading.Thread(
        target=_run, args=(spec, cancel, items, node), name="job-sandbox", daemon=True
    )
    worker.start()
    try:
        while True:
            try:
                kind, data = items.get(timeout=_QUEUE_POLL_SECONDS)
            except queue.Empty:
                continue
            if kind == "raise":
                raise data
            yield (kind, data)
            if kind == "final":
                return
    finally:
        # A soft cancel (KeyboardInterrupt), a closed generator or an error: stop the
        # sandbox and wait until run_job has removed its container.
        cancel.set()
        worker.join(timeout=_CANCEL_JOIN_SECONDS)


def _run(spec: JobSpec, cancel: threading.Event,
         items: queue.Queue[tuple[str, Any]], node: str) -> None:
    from engine.sandbox import run_job

    try:
        outcome = run_job(
            spec,
            on_interim=lambda message: items.put(("interim", message.data)),
            cancel=cancel,
            on_log=lambda text: items.put(("log", text)),
        )
        final = outcome_dict(outcome)
        final["metrics"]["node"] = node
        items.put(("final", final))
    except BaseException as exc:  # passed on to the dispatcher as the task's error
        items.put(("raise", exc))


class SandboxReaper:
    """A node's reaper: removes sandbox containers whose creating process has died.

    Run as a detached actor pinned to its node (``RayExecutor`` starts one per node that
    advertises ``sandbox_host``). A job's container is labelled with the identity of the
    Ray worker that created it; when that worker dies with its node's raylet or by a force
    cancel, the container is an orphan and goes on the next pass.
    """

    def __init__(self, period_seconds: float) -> None:
        self.period_seconds = period_seconds
        self.removed: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="sandbox-reaper", daemon=True)
        self._thread.start()

    def reap(self) -> list[str]:
        """One pass now; the job ids of the containers removed."""
        from engine.sandbox.container import reap_orphans
        from engine.sandbox.docker_client import shared_client

        removed = reap_orphans(shared_client())
        self.removed.extend(removed)
        return removed

    def removed_jobs(self) -> list[str]:
        """Job ids of every container this reaper removed."""
        return list(self.removed)

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.period_seconds):
            try:
                self.reap()
            except Exception:  # Docker restarting, say: try again on the next pass
                log.exception("reaping orphaned sandboxes failed")
