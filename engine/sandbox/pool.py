"""Warm sandboxes: containers started ahead of time, waiting for their ``start`` message.

Starting a container and importing Qiskit inside it takes most of a short job's time. A
:class:`WarmPool` keeps up to ``size`` started containers per (image, profile, runtime),
each with its runner already past its imports and blocked on ``start``; :meth:`WarmPool.take`
hands one out and starts a replacement in the background. A warm container is as locked
down as any other (it is created by the same code); it only carries a ``warm-…`` job label
instead of the job's id. Containers of a process that dies are reaped like any orphan.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict

from engine.errors import ProtocolViolation, SandboxError
from engine.protocol import ReadyMessage, parse_sandbox_message
from engine.sandbox.container import STDOUT, ContainerSpec, SandboxContainer

log = logging.getLogger(__name__)

_Key = tuple[str, object, str | None]


class WarmPool:
    """Up to ``size`` ready containers per (image, profile, runtime)."""

    def __init__(self, client: object, *, size: int = 1, ready_timeout: float = 60) -> None:
        if size < 1:
            raise ValueError(f"a warm pool holds at least one container per image, got {size}")
        self._client = client
        self._size = size
        self._ready_timeout = ready_timeout
        self._idle: dict[_Key, list[SandboxContainer]] = defaultdict(list)
        self._starting: dict[_Key, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._closed = False

    def take(self, spec: ContainerSpec) -> SandboxContainer | None:
        """A ready container for ``spec``, or ``None`` (then the caller starts its own); in
        both cases the pool starts filling up for ``spec`` again."""
        key = (spec.image, spec.profile, spec.runtime)
        with self._lock:
            container = self._idle[key].pop() if self._idle[key] else None
        self.fill(spec)
        return container

    def fill(self, spec: ContainerSpec) -> None:
        """Start containers for ``spec`` in the background until ``size`` are ready."""
        key = (spec.image, spec.profile, spec.runtime)
        with self._lock:
            missing = self._size - len(self._idle[key]) - self._starting[key]
            if self._closed or missing <= 0:
                return
            self._starting[key] += missing
        for _ in range(missing):
            threading.Thread(target=self._warm, args=(key, spec), name="warm-sandbox",
                             daemon=True).start()

    def ready_count(self) -> int:
        """How many containers are ready, over every image."""
        with self._lock:
            return sum(len(containers) for containers in self._idle.values())

    def close(self) -> None:
        """Remove every idle container; containers still starting are removed when ready."""
        with self._lock:
            self._closed = True
            idle = [c for containers in self._idle.values() for c in containers]
            self._idle.clear()
        for container in idle:
            container.remove()

    def _warm(self, key: _Key, spec: ContainerSpec) -> None:
        warm_spec = ContainerSpec(image=spec.image, job_id=f"warm-{uuid.uuid4().hex[:12]}",
                                  profile=spec.profile, runtime=spec.runtime, labels=spec.labels)
        container = SandboxContainer(self._client, warm_spec)
        ready = False
        try:
            container.create()
            container.start()
            ready = _wait_for_ready(container, self._ready_timeout)
        except SandboxError as exc:
            log.warning("could not warm a sandbox for %s: %s", spec.image, exc)
        with self._lock:
            self._starting[key] -= 1
            keep = ready and not self._closed
            if keep:
                self._idle[key].append(container)
        if not keep:
            container.kill_soon()
            container.remove()


def _wait_for_ready(container: SandboxContainer, timeout: float) -> bool:
    """Read the container's output until its runner says ``ready``."""
    deadline = time.monotonic() + timeout
    pending = b""
    while time.monotonic() < deadline:
        frames = container.read(timeout=0.1)
        if frames is None:
            return False
        for stream, data in frames:
            if stream != STDOUT:
                continue
            pending += data
            if b"\n" in pending:
                line = pending.split(b"\n", 1)[0]
                try:
                    return isinstance(parse_sandbox_message(line), ReadyMessage)
                except ProtocolViolation:
                    return False
    return False
