"""``program-engine review`` and ``audit`` from a shell, embedded mode: real store, real
sandbox, the review band set to Bandit's B311 through a copy of ``policies/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
CLI = Path(sys.executable).with_name("program-engine")
DICE = ("import random\n\n\ndef main(backend, user_messenger, **kwargs):\n"
        "    return random.randint(1, 6)\n")

pytestmark = pytest.mark.docker


@pytest.fixture
def shell(tmp_path: Path, runtime_image: str):
    policies = tmp_path / "policies"
    subprocess.run(["cp", "-r", str(REPO / "policies"), str(policies)], check=True)
    review = yaml.safe_load((policies / "review.yaml").read_text())
    review["review_band"] = {"min_severity": None, "rule_ids": ["B311"]}
    (policies / "review.yaml").write_text(yaml.safe_dump(review))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ENGINE_")}
    env.update(PYTHONPATH=str(REPO), ENGINE_POLICY_DIR=str(policies),
               ENGINE_HOME=str(tmp_path / "home"))
    program = tmp_path / "dice"
    program.mkdir()
    (program / "dice.py").write_text(DICE)
    (program / "dice.json").write_text(json.dumps(
        {"name": "dice", "description": "Rolls.", "max_execution_time": 60, "is_public": True}))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)

    return run


def test_review_from_the_shell(shell) -> None:
    assert shell("users", "add", "bob", "--reviewer").returncode == 0
    users = json.loads(shell("users", "list", "--json").stdout)
    assert [(u["name"], u["is_reviewer"]) for u in users] == [("bob", True)]
    upload = shell("programs", "upload", "dice", "--user", "alice")
    assert upload.returncode == 0, upload.stderr
    program_id = upload.stdout.strip()
    assert "pending_review" in upload.stderr

    refused = shell("jobs", "run", program_id, "--user", "alice")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert f"review show {program_id} 1" in refused.stderr

    queue = json.loads(shell("review", "list", "--json", "--user", "bob").stdout)
    assert [(r["program_id"], r["status"]) for r in queue] == [(program_id, "pending_review")]
    own = shell("review", "approve", program_id, "1", "--user", "alice")
    assert own.returncode == 2 and "not a reviewer" in own.stderr
    empty = shell("review", "reject", program_id, "1", "--user", "bob")
    assert empty.returncode == 2 and "comment" in empty.stderr
    decided = json.loads(shell("review", "approve", program_id, "1", "--user", "bob",
                               "--comment", "ok", "--json").stdout)
    assert (decided["status"], decided["reviewed_by"]) == ("approved", "bob")
    again = shell("review", "approve", program_id, "1", "--user", "bob")
    assert again.returncode == 2 and "not pending_review" in again.stderr

    ran = shell("jobs", "run", program_id, "--user", "alice", "--wait")
    assert ran.returncode == 0, ran.stderr

    entries = json.loads(shell("audit", "list", "--json", "--object", program_id).stdout)
    assert [(e["actor"], e["action"], e["origin"]) for e in entries] == [
        ("alice", "program.upload", "cli"), ("bob", "review.approve", "cli")]
    runs = json.loads(shell("audit", "list", "--json", "--action", "job.run",
                            "--actor", "alice").stdout)
    assert [e["details"]["program_version"] for e in runs] == [1]
    assert shell("audit", "list", "--json", "--since", "2999-01-01").stdout.strip() == "[]"
    verified = shell("audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
