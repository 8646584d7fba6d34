"""One locked-down container per job: create, attach, start, talk, kill, inspect, remove.

The container has no network, a read-only root, a size-limited tmpfs ``/tmp``, a non-root
user, no capabilities, ``no-new-privileges``, the profile's seccomp profile (``policies/
seccomp.json``: Docker's default, tightened), the profile's OCI runtime (runc, or gVisor's
runsc as a second wall), memory equal to memory+swap, a CPU quota, a pids
limit, ulimits for open files, file size and core dumps, an init process as PID 1, no host
environment, no host mounts and no Docker socket. Labels tie it to its job so that orphans can
be reaped.

Its stdin and stdout carry the protocol; stderr carries the program's logs. The attach socket
is opened before the container starts, so no output is lost. Killing happens from a thread of
its own (Docker's kill waits for the output copy to drain, which waits for our reader).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Ulimit

from engine.errors import SandboxError, SandboxLost, SandboxUnavailable
from engine.process_identity import is_alive, this_process
from engine.sandbox.docker_client import DOCKER_GONE
from engine.sandbox.policy import ResourceProfile, load_sandbox_policy, seccomp_profile_text
from engine.sandbox.runtimes import effective_runtime, unavailable_runtime

LABEL_ENGINE = "org.program-engine.sandbox"
LABEL_JOB = "org.program-engine.job"
LABEL_OWNER = "org.program-engine.owner"  # the process identity of the creator
SANDBOX_USER = "10001:10001"

STDOUT = 1
STDERR = 2


@dataclass(frozen=True)
class ContainerSpec:
    """What a sandbox container is made of."""

    image: str
    job_id: str
    profile: ResourceProfile
    runtime: str | None = None  # the global override (ENGINE_SANDBOX_RUNTIME) of the profile's
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def effective_runtime(self) -> str | None:
        """The OCI runtime the container gets (``None``: Docker's default, runc)."""
        return effective_runtime(self.runtime, self.profile.runtime)

    @property
    def pids_limit(self) -> int:
        """The profile's pids limit plus what the runtime needs for itself (gVisor's Sentry)."""
        overhead = load_sandbox_policy().runtime_pids_overhead
        return self.profile.pids + overhead.get(self.effective_runtime or "", 0)

    def security_options(self) -> list[str]:
        """``no-new-privileges`` and the profile's seccomp profile."""
        options = ["no-new-privileges"]
        if self.profile.seccomp is not None:
            options.append(f"seccomp={seccomp_profile_text(self.profile.seccomp)}")
        return options


class WriteTimeout(SandboxError):
    """The container did not take a message on its stdin within the write timeout."""


class SandboxContainer:
    """A created container with its attach socket; see the module docstring."""

    def __init__(self, client: docker.DockerClient, spec: ContainerSpec) -> None:
        self._client = client
        self.spec = spec
        self.id: str | None = None
        self._sock: socket.socket | None = None
        self._keepalive: Any = None  # what holds the socket's descriptor (Docker's SocketIO)
        self._buffer = bytearray()
        self._write_lock = threading.Lock()
        self._killed = threading.Event()
        self.jobs = 0  # jobs started in it: a reused container serves several

    # --- lifecycle ---------------------------------------------------------------------------

    def create(self) -> None:
        """Create the container with every lockdown option, and attach to it."""
        profile = self.spec.profile
        runtime = self.spec.effective_runtime
        mem = int(profile.memory)
        labels = {
            LABEL_ENGINE: "1",
            LABEL_JOB: self.spec.job_id,
            LABEL_OWNER: this_process(),
            **self.spec.labels,
        }
        try:
            container = self._client.containers.create(
                self.spec.image,
                stdin_open=True,
                tty=False,
                user=SANDBOX_USER,
                environment={},
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={int(profile.tmp_size)},mode=1777"},
                shm_size=int(profile.shm_size),
                cap_drop=["ALL"],
                security_opt=self.spec.security_options(),
                mem_limit=mem,
                memswap_limit=mem,
                nano_cpus=int(profile.cpus * 1e9),
                pids_limit=self.spec.pids_limit,
                ulimits=[
                    Ulimit(name="nofile", soft=profile.nofile, hard=profile.nofile),
                    Ulimit(name="fsize", soft=int(profile.fsize), hard=int(profile.fsize)),
                    Ulimit(name="core", soft=0, hard=0),
                ],
                init=True,
                log_config=LogConfig(type=LogConfig.types.NONE),
                hostname="sandbox",
                labels=labels,
                runtime=runtime,
            )
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(f"sandbox image {self.spec.image!r} not found: {exc}") from None
        except docker.errors.APIError as exc:
            if "runtime" in str(exc).lower():  # "Unknown runtime specified runsc"
                raise unavailable_runtime(runtime, str(exc)) from None
            raise SandboxError(f"cannot create the sandbox container: {exc}") from None
        except DOCKER_GONE as exc:
            raise SandboxUnavailable(f"Docker stopped answering: {exc}") from None
        self.id = container.id
        try:
            attached = self._client.api.attach_socket(
                self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
        except DOCKER_GONE as exc:
            raise SandboxUnavailable(f"Docker stopped answering: {exc}") from None
        self._sock = getattr(attached, "_sock", attached)
        self._keepalive = attached  # the socket closes when its response object is collected
        self._sock.setblocking(False)

    def start(self) -> None:
        """Start the container. Nothing of the program has run yet, so a failure here is the
        runtime's: :class:`~engine.errors.SandboxUnavailable`, naming it."""
        try:
            self._client.api.start(self.id)
        except docker.errors.APIError as exc:
            raise unavailable_runtime(self.spec.effective_runtime, str(exc)) from None
        except DOCKER_GONE as exc:
            raise SandboxUnavailable(f"Docker stopped answering: {exc}") from None

    def kill_soon(self) -> None:
        """SIGKILL the container from a separate thread (never from the reader)."""
        if self._killed.is_set():
            return
        self._killed.set()
        threading.Thread(target=self._kill, name=f"kill-{self.spec.job_id}", daemon=True).start()

    @property
    def kill_requested(self) -> bool:
        return self._killed.is_set()

    def _kill(self) -> None:
        if self.id is None:
            return  # never created (the runtime refused it): nothing to kill
        # It has exited already, or Docker is gone (then it is reaped once Docker is back).
        with contextlib.suppress(docker.errors.APIError, *DOCKER_GONE):
            self._client.api.kill(self.id)

    def wait(self, timeout: float) -> dict[str, Any]:
        """Wait for the container to exit; return Docker's ``State`` of it.

        :class:`~engine.errors.SandboxLost` when Docker does not answer: the container's
        end can then not be known."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = self._client.api.inspect_container(self.id)["State"]
            except DOCKER_GONE as exc:
                raise SandboxLost(f"Docker stopped answering while the sandbox ran "
                                  f"({type(exc).__name__})") from None
            if not state.get("Running") or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def remove(self) -> bool:
        """Remove the container, whatever state it is in; ``False`` when Docker did not
        answer (the container is then left for :func:`reap_orphans`)."""
        self.close_stream()
        if self.id is None:
            return True
        try:
            force_remove(self._client, self.id)
        except DOCKER_GONE:
            return False
        return True

    def close_stream(self) -> None:
        """Close the attach socket (the container itself is left as it is).

        The socket's descriptor is shared with the SocketIO Docker's SDK made of it, and is
        released only when both are closed: closing the socket alone left it open until the
        garbage collector came by (the soak saw the daemon's descriptors climb by ~25
        between collections)."""
        for stream in (self._sock, self._keepalive):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._sock = self._keepalive = None

    # --- the attach stream -------------------------------------------------------------------

    def read(self, timeout: float) -> list[tuple[int, bytes]] | None:
        """The output frames that arrive within ``timeout`` seconds: ``(stream, data)`` pairs
        for stdout and stderr. ``None`` at end of stream."""
        assert self._sock is not None
        readable, _, _ = select.select([self._sock], [], [], timeout)
        if not readable:
            return []
        try:
            chunk = self._sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not chunk:
            return None
        self._buffer += chunk
        return list(self._frames())

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= 8:
            size = int.from_bytes(buffer[offset + 4 : offset + 8], "big")
            if len(buffer) - offset - 8 < size:
                break
            stream = buffer[offset]
            yield stream, bytes(buffer[offset + 8 : offset + 8 + size])
            offset += 8 + size
        del buffer[:offset]

    def write(self, data: bytes, timeout: float) -> None:
        """Send ``data`` to the container's stdin; raise :class:`WriteTimeout` if it is not
        taken within ``timeout`` seconds (a program that never reads cannot hang the host)."""
        assert self._sock is not None
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        with self._write_lock:
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WriteTimeout(f"the sandbox did not read its input within {timeout} s")
                _, writable, _ = select.select([], [self._sock], [], remaining)
                if not writable:
                    continue
                try:
                    sent = self._sock.send(view)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    raise SandboxError(f"the sandbox's input is closed: {exc}") from None
                view = view[sent:]

    # --- accounting ----------------------------------------------------------------------------

    def resource_usage(self) -> tuple[float | None, int | None]:
        """CPU seconds and peak memory bytes so far, from the container's cgroup."""
        cpu = _read_int(f"/sys/fs/cgroup/cpuacct/docker/{self.id}/cpuacct.usage")
        peak = _read_int(f"/sys/fs/cgroup/memory/docker/{self.id}/memory.max_usage_in_bytes")
        if cpu is None and peak is None:
            try:
                stats = self._client.api.stats(self.id, stream=False, one_shot=True)
            except (docker.errors.APIError, ValueError, *DOCKER_GONE):
                return None, None
            cpu = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
            peak = stats.get("memory_stats", {}).get("max_usage") or stats.get(
                "memory_stats", {}
            ).get("usage")
        return (cpu / 1e9 if cpu else None), peak


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def reap_orphans(client: docker.DockerClient, is_live: Any = None, *,
                 owner: str | None = None) -> list[str]:
    """Remove engine containers whose owner is gone; return the removed job ids.

    A container is an orphan when ``is_live(job_id)`` says False or, without ``is_live``, when
    the process that created it ran on this host and no longer exists. With ``owner`` (a
    process identity), only that process's containers are looked at.
    """
    removed = []
    for info in client.api.containers(all=True, filters={"label": LABEL_ENGINE}):
        labels = info.get("Labels") or {}
        if owner is not None and labels.get(LABEL_OWNER) != owner:
            continue
        job_id = labels.get(LABEL_JOB, "")
        if is_live is not None:
            orphan = not is_live(job_id)
        else:
            orphan = not is_alive(labels.get(LABEL_OWNER))
        if orphan:
            force_remove(client, info["Id"])
            removed.append(job_id)
    return removed


def force_remove(client: Any, container_id: str, attempts: int = 5) -> None:
    """Remove a container whatever its state; one already gone is fine.

    A force-remove that meets the container while it exits can fail with "Could not kill
    running container …, cannot remove - Container … is not running" (Docker 20.10 under
    runsc, mostly); the next try removes it. One being removed by someone else is left to
    them."""
    for attempt in range(attempts):
        try:
            client.api.remove_container(container_id, force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            message = str(exc.explanation or exc)
            if "already in progress" in message:
                return
            if "is not running" not in message or attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
