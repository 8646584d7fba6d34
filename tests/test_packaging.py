"""The engine installs like any Python package: a wheel, outside the repository.

A scan-only install (no extras) reviews programs and serves as the pre-commit hook; the
policies and the sandbox's image recipes come with the wheel as package data; a command that
needs an extra that is missing names it. ``run`` works from the wheel too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BENIGN = "def main(backend, user_messenger, **kwargs):\n    return 'ok'\n"
HOSTILE = ("import subprocess\n\ndef main(backend, user_messenger, **kwargs):\n"
           "    return subprocess.run(['id'])\n")

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items()
             if key not in ("PYTHONPATH", "ENGINE_POLICY_DIR", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO),
                  "-w", str(out)], cwd=out)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("program_engine-*.whl")
    return path


@pytest.fixture(scope="module")
def scan_only(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with the wheel and its own dependencies, no extras."""
    venv = tmp_path_factory.mktemp("scan-only") / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent).returncode == 0
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                      "--disable-pip-version-check", str(wheel)], cwd=venv.parent)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(BENIGN)
    (tmp_path / "bad.py").write_text(HOSTILE)
    return tmp_path


def test_the_wheel_carries_the_policies_the_image_recipes_and_the_dashboard(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for policy in (REPO / "policies").iterdir():
        assert f"engine/policies/{policy.name}" in names
    for recipe in ("runtime.Dockerfile", "program.Dockerfile", "bootstrap-rootfs.sh"):
        assert f"engine/sandbox_images/{recipe}" in names
    for kind in ("templates", "static"):  # the dashboard's pages and assets
        for asset in (REPO / "engine" / "server" / "ui" / kind).iterdir():
            assert f"engine/server/ui/{kind}/{asset.name}" in names


def test_a_scan_only_install_reviews_programs_outside_the_repository(
    scan_only: Path, outside: Path
) -> None:
    cli = str(scan_only / "bin" / "program-engine")
    assert _run([cli, "scan", "good.py"], cwd=outside).returncode == 0
    rejected = _run([cli, "scan", "bad.py"], cwd=outside)
    assert rejected.returncode == 1, rejected.stderr
    assert "subprocess" in rejected.stdout + rejected.stderr
    # Only what scanning needs was installed.
    for heavy in ("qiskit", "docker", "sqlalchemy", "fastapi", "httpx"):
        probe = _run([str(scan_only / "bin" / "python"), "-c", f"import {heavy}"], cwd=outside)
        assert probe.returncode != 0, f"{heavy} came with a scan-only install"


def test_the_pre_commit_hook_runs_from_a_scan_only_install(
    scan_only: Path, outside: Path
) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    entry = hook["entry"].split()
    env = {"PATH": f"{scan_only / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    # pre-commit runs: entry + args + the staged files of the hook's type.
    assert _run([*entry, "good.py"], cwd=outside, env=env).returncode == 0
    assert _run([*entry, "good.py", "bad.py"], cwd=outside, env=env).returncode == 1


def test_a_command_needing_a_missing_extra_names_it(scan_only: Path, outside: Path) -> None:
    result = _run([str(scan_only / "bin" / "program-engine"), "run", "good.py"], cwd=outside)
    assert result.returncode == 2
    assert "pip install 'program-engine[" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.docker
def test_run_works_from_the_wheel_outside_the_repository(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, outside: Path
) -> None:
    """The wheel installed without its dependencies into a fresh environment that borrows
    the test environment's runtime packages (so nothing large is downloaded again)."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent).returncode == 0
    python = str(venv / "bin" / "python")
    installed = _run([python, "-m", "pip", "install", "-q", "--no-deps",
                      "--disable-pip-version-check", str(wheel)], cwd=venv.parent)
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                cwd=venv.parent).stdout.strip()
    Path(site, "borrowed-runtime.pth").write_text(sysconfig.get_path("purelib") + "\n")
    where = _run([python, "-c", "import engine; print(engine.__file__)"], cwd=outside)
    assert where.stdout.strip().startswith(site), where.stdout + where.stderr
    result = _run([str(venv / "bin" / "program-engine"), "run", "good.py", "--json"],
                  cwd=outside)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["status"] == "DONE"
