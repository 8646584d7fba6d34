"""``program-engine scan`` run as a real console script: exit codes and every format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.scan.conftest import CORPUS, HERE, REPO

SCRIPT = Path(sys.executable).with_name("program-engine")
SARIF_SCHEMA = json.loads((HERE / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
BENIGN = CORPUS / "benign" / "hello_world_original.py"
HOSTILE = CORPUS / "hostile" / "exec_alias.py"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [str(SCRIPT), "scan", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_the_console_script_exists():
    assert SCRIPT.exists(), "install the project first (scripts/setup)"


def test_accepted_files_exit_0_with_a_text_report():
    result = run(BENIGN, CORPUS / "benign" / "vqe_h2.py")
    assert result.returncode == 0, result.stderr
    assert "hello_world_original.py: accepted" in result.stdout
    assert "vqe_h2.py: accepted, no findings" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("accepted: 2 files")


def test_a_rejected_file_exits_1_and_the_text_names_the_rule():
    result = run(BENIGN, HOSTILE)
    assert result.returncode == 1
    assert "exec_alias.py: rejected" in result.stdout and "PE201" in result.stdout
    assert "run_step = exec" in result.stdout  # the source line
    assert_no_traceback(result)


def test_json_format():
    result = run("--format", "json", HOSTILE, BENIGN)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["verdict"] == "rejected" and data["counts"]["files"] == 2
    verdicts = {Path(file["file"]).name: file["verdict"] for file in data["files"]}
    assert verdicts == {"exec_alias.py": "rejected", "hello_world_original.py": "accepted"}


def test_sarif_format_validates():
    result = run("--format", "sarif", CORPUS / "hostile")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]


def test_folders_are_searched_recursively(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "deep.py").write_text("import socket\n", encoding="utf-8")
    (nested / "notes.txt").write_text("import os\n", encoding="utf-8")
    result = run("--format", "json", tmp_path)
    assert result.returncode == 1
    files = [file["file"] for file in json.loads(result.stdout)["files"]]
    assert len(files) == 1 and files[0].endswith("deep.py")


def test_output_file_gets_the_report_and_stderr_the_summary(tmp_path):
    target = tmp_path / "report.sarif"
    result = run("--format", "sarif", "--output", target, HOSTILE)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("rejected:")
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(target.read_text("utf-8")))
    text_target = tmp_path / "report.txt"
    assert run("-o", text_target, BENIGN).returncode == 0
    assert "\x1b[" not in text_target.read_text("utf-8")  # no colours in files


def test_fail_on_sets_the_threshold(tmp_path):
    medium_only = tmp_path / "medium.py"
    medium_only.write_text("import pandas\n", encoding="utf-8")  # PE102, medium
    assert run(medium_only).returncode == 1
    assert run("--fail-on", "high", medium_only).returncode == 0
    assert run("--fail-on", "low", CORPUS / "benign" / "teleportation.py").returncode == 1  # B311


def test_custom_policy(tmp_path):
    policy = tmp_path / "lenient.yaml"
    policy.write_text("mode: warn\n", encoding="utf-8")
    result = run("--policy", policy, "--format", "json", HOSTILE)
    assert result.returncode == 0
    assert json.loads(result.stdout)["policy"]["mode"] == "warn"
    allow = tmp_path / "allow.yaml"
    allow.write_text("imports:\n  allow_more: [pandas]\n", encoding="utf-8")
    medium_only = tmp_path / "uses_pandas.py"
    medium_only.write_text("import pandas\n", encoding="utf-8")
    assert run("--policy", allow, medium_only).returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "xml", "x.py"),
        ("--fail-on", "critical", "x.py"),
        (),
        ("--no-such-option", "x.py"),
    ],
    ids=["bad-format", "bad-fail-on", "no-paths", "bad-option"],
)
def test_usage_errors_exit_2(args):
    result = run(*args)
    assert result.returncode == 2
    assert_no_traceback(result)


def test_missing_path_exits_2():
    result = run("does/not/exist.py")
    assert result.returncode == 2
    assert "does/not/exist.py: no such file or folder" in result.stderr
    assert_no_traceback(result)


def test_bad_policy_exits_2_and_names_the_key(tmp_path):
    policy = tmp_path / "bad.yaml"
    policy.write_text("thresholds:\n  severity: extreme\n", encoding="utf-8")
    result = run("--policy", policy, BENIGN)
    assert result.returncode == 2
    assert "thresholds.severity" in result.stderr and str(policy) in result.stderr
    assert_no_traceback(result)


def test_a_20_mb_file_is_rejected_quietly(tmp_path):
    huge = tmp_path / "huge.py"
    with open(huge, "wb") as handle:
        handle.write(b"x = 1\n" * (20 * 1024 * 1024 // 6 + 1))
    result = run("--format", "json", huge)
    assert result.returncode == 1
    finding = json.loads(result.stdout)["files"][0]["findings"][0]
    assert finding["rule_id"] == "PE701"
    assert_no_traceback(result)


def test_binary_file_is_rejected_quietly(tmp_path):
    blob = tmp_path / "blob.py"
    blob.write_bytes(bytes(range(256)) * 100)
    result = run(blob)
    assert result.returncode == 1 and "PE603" in result.stdout
    assert_no_traceback(result)


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "program-engine-scan")
    assert hook["entry"] == "program-engine scan"
    assert hook["language"] == "python" and hook["types"] == ["python"]
    # pre-commit appends the staged file names to the entry: that must be a valid call.
    result = subprocess.run(
        [*hook["entry"].replace("program-engine", str(SCRIPT)).split(), *hook.get("args", []),
         str(BENIGN)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
