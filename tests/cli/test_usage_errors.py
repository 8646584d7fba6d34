"""Bad input on the command line: one clear line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("program-engine")
BENIGN = "def main(backend, user_messenger, **kwargs):\n    return 1\n"
HOSTILE = "import subprocess\n\ndef main(backend, user_messenger):\n    return 1\n"


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120)


def _usage_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "program.py").write_text(BENIGN)
    (tmp_path / "bad.py").write_text(HOSTILE)
    (tmp_path / "notes.txt").write_text("not a program")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize("seconds", ["0", "-5", "100000"])
def test_run_refuses_an_impossible_time_limit(folder: Path, seconds: str) -> None:
    result = _cli("run", "program.py", f"--max-execution-time={seconds}", cwd=folder)
    _usage_error(result, "max_execution_time", "must be more than 0 and at most 86400")
    assert len(result.stderr.strip().splitlines()) <= 3


def test_serve_refuses_an_unknown_log_level(folder: Path) -> None:
    _usage_error(_cli("serve", "--log-level", "verbose", cwd=folder), "verbose")


def test_scan_to_an_output_file_that_cannot_be_written(folder: Path) -> None:
    result = _cli("scan", "program.py", "--format", "sarif", "--output",
                  "/no/such/dir/x.sarif", cwd=folder)
    _usage_error(result, "cannot write the report to /no/such/dir/x.sarif")
    assert "internal error" not in result.stderr


def test_scan_of_a_folder_without_python_files(folder: Path) -> None:
    _usage_error(_cli("scan", "empty", cwd=folder), "no Python files in empty")


def test_scan_of_a_file_that_is_not_python(folder: Path) -> None:
    _usage_error(_cli("scan", "notes.txt", cwd=folder), "notes.txt: not a Python file")


def test_scan_of_a_missing_path(folder: Path) -> None:
    _usage_error(_cli("scan", "nowhere.py", cwd=folder), "nowhere.py: no such file or folder")


def test_scan_reads_a_program_from_standard_input(folder: Path) -> None:
    accepted = _cli("scan", "-", "--json", cwd=folder, stdin=BENIGN)
    assert accepted.returncode == 0, accepted.stderr
    report = json.loads(accepted.stdout)
    assert report["accepted"] is True and report["counts"]["files"] == 1
    rejected = _cli("scan", "-", cwd=folder, stdin=HOSTILE)
    assert rejected.returncode == 1
    assert "<stdin>:1" in rejected.stdout + rejected.stderr


def test_scan_json_is_format_json(folder: Path) -> None:
    short = _cli("scan", "program.py", "--json", cwd=folder)
    long = _cli("scan", "program.py", "--format", "json", cwd=folder)
    assert short.returncode == long.returncode == 0
    assert json.loads(short.stdout)["files"] == json.loads(long.stdout)["files"]


def test_a_misspelt_policy_key_suggests_the_nearest(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import PolicyError
    from engine.policy_files import load_policy_model, packaged_dir
    from engine.sandbox.policy import SandboxPolicy

    text = (packaged_dir("policies") / "sandbox.yaml").read_text()
    (tmp_path / "sandbox.yaml").write_text(text.replace("warm_pool_size:", "warm_pool_sise:"))
    monkeypatch.setenv("ENGINE_POLICY_DIR", str(tmp_path))
    with pytest.raises(PolicyError, match=r"warm_pool_sise: .*did you mean 'warm_pool_size'"):
        load_policy_model("sandbox", SandboxPolicy)


def test_version_flag_and_command_print_the_version(folder: Path) -> None:
    from engine import __version__

    assert _cli("--version", cwd=folder).stdout.strip() == __version__
    assert _cli("version", cwd=folder).stdout.strip() == __version__


def test_backends_lists_qubits_and_limits(folder: Path, tmp_path: Path) -> None:
    import os

    env_home = {**os.environ, "ENGINE_HOME": str(tmp_path / "home")}
    result = subprocess.run([str(SCRIPT), "backends", "--json"], cwd=folder, env=env_home,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    backends = {item["name"]: item for item in json.loads(result.stdout)}
    assert backends["aer_simulator"]["num_qubits"] >= backends["aer_simulator"]["max_qubits"]
    assert backends["aer_simulator"]["max_qubits"] == 26
    assert backends["ibmq_qasm_simulator"]["alias_of"] == "aer_simulator"
