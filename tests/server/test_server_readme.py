"""The daemon as the README shows it, end to end: serve, add a user, run a sample from
another process with the CLI and with ten lines of Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme_blocks import readme_block
from tests.server.conftest import REPO, Daemon

pytestmark = pytest.mark.docker

CLI = Path(sys.executable).with_name("program-engine")

# The README's "ten lines of Python", as written there.
REMOTE_SNIPPET = readme_block("remote")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_readme_daemon_recipe(tmp_path: Path, runtime_image) -> None:
    home = tmp_path / "daemon-home"
    daemon = Daemon(home).start()  # program-engine serve --port P --home HOME
    try:
        env = daemon.env()
        added = _cli("users", "add", "alice", "--home", str(home), env=env)
        assert added.returncode == 0, added.stderr
        token = added.stdout.strip()
        assert "shown once" in added.stderr

        # The README offers the Python lines as another way in: they run as another user,
        # since a second upload of a name the user already has is refused.
        other = _cli("users", "add", "bob", "--home", str(home), env=env).stdout.strip()
        remote = {**env, "PROGRAM_ENGINE_URL": daemon.url, "PROGRAM_ENGINE_TOKEN": other}
        done = subprocess.run([sys.executable, "-c", REMOTE_SNIPPET], cwd=REPO, env=remote,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        interim = [line for line in lines if line.startswith("interim: ")]
        assert len(interim) == 2 and "'iteration': 0" in interim[0]
        assert lines[2] == "result: Hello, World!" and lines[3].startswith("status: DONE in ")

        uploaded = _cli("programs", "upload", "program_source/hello_world", "--url", daemon.url,
                        "--token", token, env=env)
        assert uploaded.returncode == 0, uploaded.stderr
        program_id = uploaded.stdout.strip()
        ran = _cli("jobs", "run", program_id, "--input", "iterations=2", "--wait", "--json",
                   "--url", daemon.url, "--token", token, env=env)
        assert ran.returncode == 0, ran.stderr
        job = json.loads(ran.stdout)
        assert job["status"] == "DONE" and job["result"] == "Hello, World!"
        assert [m["iteration"] for m in job["interim_results"]] == [0, 1]

        refused = _cli("jobs", "list", "--url", daemon.url, "--token", "wrong", env=env)
        assert refused.returncode == 2 and "not valid" in refused.stderr
    finally:
        daemon.stop()
    assert os.path.exists(home / "engine.db")
