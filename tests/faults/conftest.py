"""What the fault tests break, each of their own: a dockerd, a PostgreSQL cluster, a small disk.

Nothing shared is ever stopped. :class:`OwnDockerd` is a second Docker daemon with its own
socket, data root, exec root and pid file, no bridge and no iptables rules, holding a copy of
the sandbox's runtime image (``docker save`` from the shared daemon, ``docker load`` into
this one, once per session). :class:`OwnPostgres` is a PostgreSQL cluster made with
``initdb`` in a temporary folder, served on a free 127.0.0.1 port. ``small_disk`` is a tmpfs
the test mounts and unmounts. Each is stopped and started again by its PID.

A :class:`FaultDaemon` is the server tests' ``program-engine serve`` with environment
variables of its own (which Docker, which database).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import psutil
import pytest
from docker.errors import DockerException

from engine.sandbox.container import LABEL_ENGINE
from engine.sandbox.images import LABEL_BASE_IMAGE
from tests.server.conftest import Daemon, add_user, free_port, policy_dir

SHARED_DOCKER_CONFIG = Path("/etc/docker/daemon.json")
POSTGRES_BIN = Path("/usr/lib/postgresql")


def until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until it is true; return how long that took (fails naming ``what``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what} within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def _end(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM ``process`` (started by this test), SIGKILL it if it outlives ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- a second Docker daemon ----------------------------------------------------------------


class OwnDockerd:
    """A Docker daemon of the tests' own under ``root``; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> OwnDockerd:
        """Start it (again) and wait until it answers."""
        config = self.root / "daemon.json"
        if not config.exists():  # the shared daemon's runtimes (runsc), nothing else
            shared = (json.loads(SHARED_DOCKER_CONFIG.read_text())
                      if SHARED_DOCKER_CONFIG.exists() else {})
            config.write_text(json.dumps({"runtimes": shared.get("runtimes", {})}))
        with (self.root / "dockerd.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["dockerd", "--host", self.url, "--data-root", str(self.root / "data"),
                 "--exec-root", str(self.root / "exec"), "--pidfile",
                 str(self.root / "docker.pid"), "--config-file", str(config), "--bridge=none",
                 "--iptables=false", "--ip-masq=false", "--log-level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        until(self.answers, timeout, "the test's dockerd did not answer")
        return self

    def answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the test's dockerd exited:\n{self.log_tail()}")
        try:
            self.client(timeout=2).ping()
            return True
        except (DockerException, OSError):
            return False

    def stop(self, timeout: float = 60, *, wait: bool = True) -> None:
        """SIGTERM this daemon by its PID (as a restart for an upgrade does); with ``wait``,
        wait until it has exited (SIGKILL past ``timeout``)."""
        assert self.process is not None
        if wait:
            _end(self.process, timeout)
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def client(self, timeout: float = 120) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def engine_containers(self, **labels: str) -> list[Any]:
        """The engine's containers with ``labels``, as listed (``sparse``: not inspected one
        by one, so that one removed between the listing and its inspection is no error)."""
        wanted = [LABEL_ENGINE] + [f"{key}={value}" for key, value in labels.items()]
        return self.client().containers.list(all=True, filters={"label": wanted}, sparse=True)

    def log_tail(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def copy_images(source: docker.DockerClient, target: docker.DockerClient, tags: list[str]
                ) -> None:
    """``docker save`` each of ``tags`` from ``source`` and ``docker load`` it into ``target``."""
    for tag in tags:
        for _ in target.api.load_image(source.api.get_image(tag, chunk_size=1 << 20)):
            pass


@pytest.fixture(scope="session")
def own_dockerd(tmp_path_factory: pytest.TempPathFactory, docker: Any,
                runtime_image: str) -> Iterator[OwnDockerd]:
    """A second dockerd holding the runtime image and its base; removed at the session's end.

    The data root lives under the session's temporary folder, so the images are copied once
    per session."""
    root = tmp_path_factory.mktemp("dockerd")
    daemon = OwnDockerd(root).start()
    try:
        base_id = docker.images.get(runtime_image).labels[LABEL_BASE_IMAGE]
        base_tags = docker.images.get(base_id).tags
        copy_images(docker, daemon.client(timeout=600), [*base_tags[:1], runtime_image])
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            with contextlib.suppress(DockerException):
                for container in daemon.engine_containers():
                    container.remove(force=True)
            daemon.stop()
        shutil.rmtree(root / "data", ignore_errors=True)


# --- a PostgreSQL cluster of its own -------------------------------------------------------


class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder, run as the ``postgres`` user, trusting
    connections from 127.0.0.1 on its own port."""

    def __init__(self) -> None:
        versions = sorted(POSTGRES_BIN.iterdir(), key=lambda path: int(path.name))
        self.bin = versions[-1] / "bin"
        self.root = Path(tempfile.mkdtemp(prefix="engine-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        account = pwd.getpwnam("postgres")
        os.chown(self.root, account.pw_uid, account.pw_gid)
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                           "-A", "trust", "-E", "UTF8", "--no-sync"])

    def _as_postgres(self, command: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> OwnPostgres:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c fsync=off -c max_connections=100")
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.root / "postgres.log"), "-w", "-t", "60", "-o", options,
                           "start"])
        return self

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown by the postmaster's PID (SIGINT: clients are disconnected)."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=timeout)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()
    try:
        yield cluster.start()
    finally:
        cluster.remove()


# --- a small disk --------------------------------------------------------------------------

SMALL_DISK = "32m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for this test, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK},mode=0700", "tmpfs",
                    str(mount)], check=True, timeout=30)
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], timeout=30).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], timeout=30)


def fill(folder: Path) -> Path:
    """Write a file under ``folder`` until its filesystem has no byte left; return it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(bytes(size))
    return filler


# --- daemons ---------------------------------------------------------------------------------


@dataclass
class FaultDaemon(Daemon):
    """A daemon with environment variables of its own (``ENGINE_*`` ones included)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}

    def user(self, name: str, *, admin: bool = False) -> str:
        return add_user(self.home, name, admin=admin,
                        url=self.extra_env.get("ENGINE_DATABASE_URL"))


@pytest.fixture
def start_fault_daemon(tmp_path: Path) -> Iterator[Callable[..., FaultDaemon]]:
    """``start_fault_daemon(home, env={...}, log=..., **policy_changes)``; stopped afterwards."""
    started: list[FaultDaemon] = []

    def start(home: Path | None = None, *, env: dict[str, str] | None = None,
              log: Path | None = None, **changes: dict[str, Any]) -> FaultDaemon:
        policies = policy_dir(tmp_path / f"policies-{len(started)}", changes) if changes \
            else None
        daemon = FaultDaemon(home or tmp_path / "home", policies, log=log,
                             extra_env=dict(env or {}))
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.stop()
