"""Real daemons for the server tests: ``program-engine serve`` subprocesses on 127.0.0.1.

A :class:`Daemon` runs the console script on a free port with its own home (SQLite store)
and, when a test needs other limits, its own copy of ``policies/`` with some keys changed.
Users are added straight into the daemon's store (the ``users`` CLI has its own tests), and
the ``hostile_archives`` fixture builds one archive per rule the unpacker enforces.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
CLI = Path(sys.executable).with_name("program-engine")

TICKER = textwrap.dedent(
    """
    import time

    def main(backend, user_messenger, **kwargs):
        for i in range(kwargs["count"]):
            user_messenger.publish({"tick": i, "sent": time.time()})
            time.sleep(kwargs.get("interval", 0.3))
        return kwargs["count"]
    """
)
TICKER_METADATA = {
    "name": "ticker",
    "description": "Publishes numbered messages.",
    "max_execution_time": 120,
}
ECHO = "def main(backend, user_messenger, **kwargs):\n    return kwargs['n']\n"
ECHO_METADATA = {"name": "echo", "description": "Returns n.", "max_execution_time": 60}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def policy_dir(target: Path, changes: dict[str, dict[str, Any]]) -> Path:
    """A copy of ``policies/`` with ``changes[file][key] = value`` applied."""
    shutil.copytree(REPO / "policies", target)
    for name, values in changes.items():
        path = target / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        data.update(values)
        path.write_text(yaml.safe_dump(data))
    return target


def add_user(home: Path, name: str, *, admin: bool = False, url: str | None = None) -> str:
    """Create a user with one token in the store under ``home`` (or at ``url``); return the
    token."""
    from engine.accounts import new_token, token_hash
    from engine.store import open_database

    token = new_token()
    with open_database(url, home=home) as database, database.write() as tx:
        if tx.users.get(name) is None:
            tx.users.create(name, is_admin=admin)
        tx.users.add_token(name, token_hash(token))
    return token


@dataclass
class Daemon:
    """One ``program-engine serve`` process."""

    home: Path
    policies: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    log_level: str = "warning"
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ENGINE_")}
        if self.policies is not None:
            env["ENGINE_POLICY_DIR"] = str(self.policies)
        return {**env, **self.extra_env}

    def start(self, timeout: float = 60) -> Daemon:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = self.log or self.home / f"daemon-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CLI), "serve", "--port", str(self.port), "--home", str(self.home),
                 "--log-level", self.log_level, *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, env=self.env(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited at start:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the daemon did not answer within {timeout} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()

    def user(self, name: str, *, admin: bool = False) -> str:
        return add_user(self.home, name, admin=admin)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def client(self, token: str, **options: Any) -> Any:
        from engine.client import RemoteRuntimeService

        return RemoteRuntimeService(self.url, token, **options)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Any]:
    """``start_daemon(**policy_changes)``: a daemon of this test, stopped afterwards."""
    started: list[Daemon] = []

    def start(home: Path | None = None, **changes: dict[str, Any]) -> Daemon:
        policies = None
        if changes:
            policies = policy_dir(tmp_path / f"policies-{len(started)}", changes)
        daemon = Daemon(home or tmp_path / "home", policies).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory, runtime_image: str) -> Iterator[Daemon]:
    """One daemon shared by the API tests, with the default policies."""
    home = tmp_path_factory.mktemp("daemon")
    running = Daemon(home).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tokens(daemon: Daemon) -> dict[str, str]:
    """Tokens of alice and bob (users) and root (an admin) on the shared daemon."""
    return {"alice": daemon.user("alice"), "bob": daemon.user("bob"),
            "root": daemon.user("root", admin=True)}


# --- archives ------------------------------------------------------------------------------

PROGRAM = b"def main(backend, user_messenger, **kwargs):\n    return 'packed'\n"
METADATA = b'{"name": "packed", "description": "From an archive.", "max_execution_time": 60}'


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def tar_file(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), content


def tar_link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def zip_bytes(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def good_program_files(prefix: str = "packed/") -> list[tuple[str, bytes]]:
    return [(f"{prefix}packed.py", PROGRAM), (f"{prefix}packed.json", METADATA),
            (f"{prefix}helpers/util.py", b"X = 1\n")]


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("packed/link.py")
    info.external_attr = (0o120777 << 16)
    return zip_bytes([*good_program_files(), (info, b"/etc/passwd")])


def _tar_bomb() -> bytes:
    """A member that inflates to 50 MB of zeros from about 50 kB of gzip."""
    return tar_gz([tar_file("packed/packed.py", PROGRAM),
                   tar_file("packed/zeros.bin", bytes(50_000_000))])


@pytest.fixture(scope="session")
def hostile_archives() -> dict[str, tuple[str, bytes, str]]:
    """``case -> (file name, archive bytes, the rule it breaks)``."""
    good = [tar_file(name, content) for name, content in good_program_files()]
    return {
        "traversal": ("evil.tar.gz", tar_gz([*good, tar_file("packed/../../evil.py", PROGRAM)]),
                      "parent_reference"),
        "absolute": ("evil.tar.gz", tar_gz([*good, tar_file("/tmp/evil.py", PROGRAM)]),
                     "absolute_path"),
        "symlink": ("evil.tar.gz", tar_gz([*good, tar_link("packed/x.py", "/etc/passwd",
                                                             tarfile.SYMTYPE)]), "link"),
        "hardlink": ("evil.tar.gz", tar_gz([*good, tar_link("packed/x.py", "/etc/passwd",
                                                              tarfile.LNKTYPE)]), "link"),
        "zip_symlink": ("evil.zip", _symlink_zip(), "link"),
        "zip_traversal": ("evil.zip", zip_bytes([*good_program_files(),
                                                 ("../evil.py", PROGRAM)]), "parent_reference"),
        "tar_bomb": ("bomb.tar.gz", _tar_bomb(), "too_large"),
        "zip_bomb": ("bomb.zip", zip_bytes([*good_program_files(),
                                            ("packed/zeros.bin", bytes(50_000_000))]),
                     "too_large"),
        "too_many_files": ("many.zip", zip_bytes(
            [*good_program_files(), *((f"packed/f{i}.txt", b"x") for i in range(300))]),
            "too_many_files"),
        "device": ("evil.tar.gz", tar_gz([*good, tar_link("packed/null", "", tarfile.CHRTYPE)]),
                   "special_file"),
        "not_an_archive": ("junk.tar.gz", b"this is not gzip at all", "not_an_archive"),
    }


# --- a TCP proxy that can cut its connections ----------------------------------------------


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to a daemon; :meth:`cut` drops every open connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.cuts = 0
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.connections += [client, upstream]
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            connections, self.connections = self.connections, []
            self.cuts += 1
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def proxy(daemon: Daemon) -> Iterator[CuttingProxy]:
    running = CuttingProxy(daemon.port)
    yield running
    running.close()
