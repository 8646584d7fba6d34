"""Warm sandboxes: containers whose runner is past its imports, waiting for ``start``.

Starting a container and importing Qiskit inside it takes most of a short job's time. A
:class:`WarmPool` keeps ready containers by :class:`PoolKey` and hands one to a run with
:meth:`WarmPool.take`. Without reuse it starts up to ``size`` fresh containers per (image,
profile, runtime) ahead of time and every container serves one job. With reuse a container
whose job ended cleanly comes back (:meth:`WarmPool.release`) and serves the next job of the
same key only: the same program version, user, resource profile and OCI runtime, never
another user, up to ``max_jobs`` jobs and while idle for less than ``idle_seconds``.

Idle containers are held within a memory budget (what their cgroups hold, all together) and
at most ``max_idle_per_program`` per program image; the least recently used are stopped
first. A warm container is as locked down as any other (it is created by the same code); it
carries a ``warm-…`` job label, and its key's user, program and profile as labels, so that
``program-engine sandboxes`` can show it. Containers of a process that dies are reaped like
any orphan.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from engine.errors import ProtocolViolation, SandboxError
from engine.protocol import ReadyMessage, parse_sandbox_message
from engine.sandbox.cgroup import ContainerCgroup
from engine.sandbox.container import STDOUT, ContainerSpec, SandboxContainer
from engine.sandbox.policy import ResourceProfile, SandboxPolicy

log = logging.getLogger(__name__)

LABEL_USER = "org.program-engine.user"
LABEL_PROGRAM = "org.program-engine.program"
LABEL_PROFILE = "org.program-engine.profile"


@dataclass(frozen=True)
class PoolKey:
    """What a container may serve: one program image under one profile and runtime, and,
    for reuse, one user's jobs of one program version."""

    image: str
    profile: ResourceProfile
    runtime: str | None
    user: str | None = None
    program: str | None = None  # "id@version", or None for a program run without a store

    @classmethod
    def of(cls, spec: ContainerSpec, user: str | None = None,
           program: str | None = None) -> PoolKey:
        return cls(spec.image, spec.profile, spec.runtime, user, program)


@dataclass
class IdleContainer:
    """A ready container in the pool, with what it holds and since when."""

    container: SandboxContainer
    key: PoolKey
    memory: int
    since: float  # time.monotonic() when it became idle

    def describe(self) -> dict[str, Any]:
        return {"id": self.container.id, "image": self.key.image, "user": self.key.user,
                "program": self.key.program, "jobs": self.container.jobs,
                "memory_bytes": self.memory,
                "idle_seconds": round(time.monotonic() - self.since, 1)}


class WarmPool:
    """Ready containers by :class:`PoolKey`; see the module docstring."""

    def __init__(self, client: object, *, size: int = 1, ready_timeout: float = 60,
                 reuse: bool = False, max_jobs: int = 100, idle_seconds: float = 300,
                 max_idle_per_program: int = 64, memory_budget: int | None = None,
                 idle_estimate: int = 200 << 20) -> None:
        if size < 1:
            raise ValueError(f"a warm pool holds at least one container per image, got {size}")
        self._client = client
        self._size = size
        self._ready_timeout = ready_timeout
        self.reuse = reuse
        self._max_jobs = max_jobs
        self._idle_seconds = idle_seconds
        self._max_idle_per_program = max_idle_per_program
        self.memory_budget = memory_budget
        self._idle_estimate = idle_estimate
        self._idle: dict[PoolKey, list[IdleContainer]] = defaultdict(list)
        self._starting: dict[PoolKey, int] = defaultdict(int)
        self._busy: dict[PoolKey, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        if reuse:
            threading.Thread(target=self._expire_loop, name="warm-pool-expiry",
                             daemon=True).start()
            atexit.register(self.close)  # an idle container outlives no process that held it

    @classmethod
    def from_policy(cls, client: object, policy: SandboxPolicy) -> WarmPool:
        """The pool ``policies/sandbox.yaml`` describes."""
        return cls(client, size=max(policy.warm_pool_size, 1),
                   ready_timeout=policy.timing.ready_timeout_seconds, reuse=policy.reuse,
                   max_jobs=policy.reuse_max_jobs, idle_seconds=policy.reuse_idle_seconds,
                   max_idle_per_program=policy.warm_pool_max_idle_per_program,
                   memory_budget=idle_memory_budget(policy),
                   idle_estimate=int(policy.warm_pool_idle_estimate))

    # --- taking and giving back ------------------------------------------------------------

    def take(self, spec: ContainerSpec, key: PoolKey | None = None) -> SandboxContainer | None:
        """A ready container for ``key`` (default: any fresh one for ``spec``'s image,
        profile and runtime), or ``None`` (then the caller starts its own); in both cases the
        pool starts filling up for it again. The most recently used goes first."""
        key = key or PoolKey.of(spec)
        taken: SandboxContainer | None = None
        dead: list[SandboxContainer] = []
        with self._lock:
            self._busy[key] += 1
            while self._idle[key] and taken is None:
                entry = self._idle[key].pop()
                if _still_ready(entry.container):
                    taken = entry.container
                else:
                    dead.append(entry.container)
        _remove(dead)
        self.fill(spec, key)
        return taken

    def release(self, key: PoolKey, container: SandboxContainer | None,
                reusable: bool) -> None:
        """A run on ``key`` has ended; keep ``container`` for the next job of the same key if
        it is ``reusable`` and the pool reuses, or remove it."""
        with self._lock:
            self._busy[key] = max(self._busy[key] - 1, 0)
            keep = (container is not None and reusable and self.reuse and not self._closed
                    and container.jobs < self._max_jobs)
        if container is None:
            return
        if not keep:
            _remove([container])
            return
        self._add_idle(key, container)

    def fill(self, spec: ContainerSpec, key: PoolKey | None = None) -> None:
        """Start containers for ``key`` in the background until ``size`` are ready (with
        reuse: ready, starting or running a job of the key)."""
        key = key or PoolKey.of(spec)
        with self._lock:
            have = len(self._idle[key]) + self._starting[key]
            if self.reuse:
                have += self._busy[key]
            missing = self._size - have
            if self._closed or missing <= 0:
                return
            self._starting[key] += missing
        for _ in range(missing):
            threading.Thread(target=self._warm, args=(key, spec), name="warm-sandbox",
                             daemon=True).start()

    # --- what is held ------------------------------------------------------------------------

    def ready_count(self) -> int:
        """How many containers are ready, over every key."""
        with self._lock:
            return sum(len(entries) for entries in self._idle.values())

    def idle(self) -> list[IdleContainer]:
        """The idle containers, least recently used first."""
        with self._lock:
            entries = [entry for entries in self._idle.values() for entry in entries]
        return sorted(entries, key=lambda entry: entry.since)

    def close(self) -> None:
        """Remove every idle container; containers still starting are removed when ready."""
        self._stop.set()
        with self._lock:
            self._closed = True
            idle = [entry.container for entries in self._idle.values() for entry in entries]
            self._idle.clear()
        _remove(idle)

    # --- inside --------------------------------------------------------------------------------

    def _add_idle(self, key: PoolKey, container: SandboxContainer) -> None:
        memory = (ContainerCgroup(container.id).memory_bytes() if container.id else None)
        entry = IdleContainer(container, key, memory or self._idle_estimate, time.monotonic())
        with self._lock:
            if self._closed:
                evicted = [container]
            else:
                self._idle[key].append(entry)
                evicted = self._evict_locked(key.image)
        _remove(evicted)

    def _evict_locked(self, image: str) -> list[SandboxContainer]:
        """Take out the least recently used idle containers over the per-program cap and the
        memory budget; the caller removes them."""
        evicted: list[SandboxContainer] = []
        entries = sorted((entry for entries in self._idle.values() for entry in entries),
                         key=lambda entry: entry.since)
        same_program = [entry for entry in entries if entry.key.image == image]
        doomed = same_program[:max(len(same_program) - self._max_idle_per_program, 0)]
        kept = [entry for entry in entries if entry not in doomed]
        if self.memory_budget is not None:
            total = sum(entry.memory for entry in kept)
            while kept and total > self.memory_budget:
                total -= kept[0].memory
                doomed.append(kept.pop(0))
        for entry in doomed:
            self._idle[entry.key].remove(entry)
            evicted.append(entry.container)
        return evicted

    def _expire_loop(self) -> None:
        period = min(max(self._idle_seconds / 4, 0.2), 5.0)
        while not self._stop.wait(period):
            limit = time.monotonic() - self._idle_seconds
            with self._lock:
                expired = [entry for entries in self._idle.values() for entry in entries
                           if entry.since < limit]
                for entry in expired:
                    self._idle[entry.key].remove(entry)
            _remove([entry.container for entry in expired])

    def _warm(self, key: PoolKey, spec: ContainerSpec) -> None:
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
        if ready:
            self._add_idle(key, container)
        else:
            _remove([container])


def _remove(containers: list[SandboxContainer]) -> None:
    for container in containers:
        container.kill_soon()
        container.remove()


def _still_ready(container: SandboxContainer) -> bool:
    """An idle container says nothing: output or the end of its stream means it is gone."""
    try:
        return container.read(timeout=0) == []
    except (OSError, AssertionError):
        return False


def idle_memory_budget(policy: SandboxPolicy) -> int:
    """What all idle containers may hold together under ``policy``, in bytes."""
    budget = int(_machine_memory() * policy.warm_pool_memory_fraction)
    if policy.warm_pool_max_memory is not None:
        budget = min(budget, int(policy.warm_pool_max_memory))
    return budget


def _machine_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


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
