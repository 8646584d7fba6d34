"""A local Ray cluster of two nodes for tests and benchmarks, only inside a network namespace.

Ray probes cloud-metadata addresses when it starts, so it must never start in the host's
network namespace: :func:`enter_loopback_namespace` re-executes the calling script under
``unshare --net`` (a namespace holding only ``lo``, brought up here), and
:class:`LocalCluster` refuses to start anywhere else. Every Ray address is 127.0.0.1; each
node has its own temp dir, one CPU, one ``sandbox_host`` slot and small memory limits. Token
authentication is on, with the token in a file of mode 600. Docker's and PostgreSQL's unix
sockets work inside the namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

NAMESPACE_MARK = "ENGINE_IN_LOOPBACK_NETNS"
OBJECT_STORE_BYTES = 100 * 1024 * 1024
MEMORY_BYTES = 1024 * 1024 * 1024
# Detect a dead node within about two seconds (Ray's defaults take about half a minute).
FAST_HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


def enter_loopback_namespace() -> None:
    """Re-run this script in a new network namespace with only ``lo``, unless already there."""
    if os.environ.get(NAMESPACE_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    env = {**os.environ, NAMESPACE_MARK: "1"}
    command = ["unshare", "--net", "--", sys.executable, *sys.argv]
    raise SystemExit(subprocess.run(command, env=env, check=False).returncode)


def only_loopback() -> bool:
    """Whether every network interface of this namespace is the loopback one."""
    return set(psutil.net_if_addrs()) <= {"lo"}


class LocalCluster:
    """A head node and ``workers`` more, started with ``ray start``; stopped by :meth:`stop`."""

    def __init__(self, root: Path, *, workers: int = 1, token_file: Path | None = None) -> None:
        """``token_file``: reuse that token (a process keeps the first token Ray loads)."""
        if os.environ.get(NAMESPACE_MARK) != "1" or not only_loopback():
            raise RuntimeError("a test Ray cluster starts only in a loopback-only namespace")
        self.root = root
        self.workers = workers
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.token_file = token_file or root / "ray-token"
        self.temp_dirs: list[Path] = []
        self.raylet_pids: list[int] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment every Ray process of this cluster (drivers too) needs."""
        return {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token_file),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_ADDRESS": self.address,
            "RAY_NODE_IP_ADDRESS": "127.0.0.1",
            **FAST_HEALTH_CHECKS,
        }

    def apply_env(self) -> None:
        """Set :attr:`env` in this process, for a driver connecting from it."""
        os.environ.update(self.env)

    def start(self) -> LocalCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.token_file.exists():
            fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        self._start_node(head=True)
        for _ in range(self.workers):
            self._start_node(head=False)
        return self

    def _start_node(self, *, head: bool) -> None:
        temp_dir = self.root / f"node{len(self.temp_dirs)}"
        self.temp_dirs.append(temp_dir)
        command = [
            str(Path(sys.executable).with_name("ray")), "start",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={temp_dir}",
            "--num-cpus=1",
            '--resources={"sandbox_host": 1}',
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            f"--memory={MEMORY_BYTES}",
            "--disable-usage-stats",
        ]
        if head:
            command += ["--head", f"--port={self.port}", "--include-dashboard=false"]
        else:
            command += [f"--address={self.address}"]
        before = set(self._raylets())
        subprocess.run(command, env=self.env, check=True, capture_output=True, timeout=120)
        started = [pid for pid in self._raylets() if pid not in before]
        self.raylet_pids.extend(started)

    def _raylets(self) -> list[int]:
        pids = []
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = process.info["cmdline"] or []
            if cmdline and Path(cmdline[0]).name == "raylet" and any(
                str(self.root) in part for part in cmdline
            ):
                pids.append(process.pid)
        return pids

    def kill_node(self, index: int) -> None:
        """``kill -9`` the raylet of node ``index`` (0 is the head)."""
        temp_dir = str(self.temp_dirs[index])
        for pid in self._raylets():
            cmdline = " ".join(psutil.Process(pid).cmdline())
            if temp_dir in cmdline:
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop every Ray process of this cluster: SIGTERM, then SIGKILL, by PID.

        Ours are exactly the processes in this network namespace other than this one and
        its ancestors (``ray stop`` would match processes by name machine-wide).
        """
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for process in self._processes():
                with contextlib.suppress(psutil.Error):
                    process.send_signal(sig)
            deadline = time.monotonic() + wait
            while self._processes() and time.monotonic() < deadline:
                time.sleep(0.1)

    def _processes(self) -> list[psutil.Process]:
        """Processes in this network namespace, except this one and its ancestors."""
        ours = os.readlink("/proc/self/ns/net")
        keep = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
        found = []
        for process in psutil.process_iter():
            if process.pid in keep:
                continue
            try:
                if os.readlink(f"/proc/{process.pid}/ns/net") == ours:
                    found.append(process)
            except OSError:
                continue
        return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
