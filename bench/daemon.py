"""A ``program-engine serve`` on a free 127.0.0.1 port, for the benchmarks that need one.

The daemon runs in its own process with the caller's environment minus every ``ENGINE_``
variable, plus ``ENGINE_POLICY_DIR`` pointing at the benchmark's copy of ``policies/``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from table import child_environment

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("program-engine")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unthrottled_policies(target: Path, **changes: dict[str, object]) -> Path:
    """A copy of ``policies/`` at ``target`` whose rate limit no benchmark reaches, with
    ``changes[file][key] = value`` applied as well (``sandbox={"reuse": True}``)."""
    shutil.copytree(REPO / "policies", target)
    changes = {**changes, "server": {**changes.get("server", {}), "rate_limit": {
        "requests_per_second": 1_000_000, "burst": 1_000_000}}}
    for name, values in changes.items():
        path = target / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        data.update(values)
        path.write_text(yaml.safe_dump(data))
    return target


class Daemon:
    """``program-engine serve`` on ``home`` with the policies in ``policies``; started and
    answering ``/healthz`` when the constructor returns."""

    def __init__(self, home: Path, policies: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_environment(drop_prefixes=("ENGINE_",), ENGINE_POLICY_DIR=str(policies))
        self.process = subprocess.Popen(
            [str(CLI), "serve", "--port", str(self.port), "--home", str(home),
             "--log-level", "warning"], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the daemon did not start")

    def stop(self) -> None:
        """SIGTERM, then wait for the drain to end."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
