"""``program-engine programs ...`` and ``jobs ...`` through the real console script.

Every command runs as a separate process on a fresh ``ENGINE_HOME``, against real SQLite and,
for the tests marked ``docker``, real sandboxes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from tests.programs import SLEEPER, SLEEPER_METADATA, TALKER, TALKER_METADATA

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = Path(sys.executable).with_name("program-engine")
HELLO = REPO / "program_source" / "hello_world"

FAILING = textwrap.dedent(
    """
    def main(backend, user_messenger, **kwargs):
        print("about to fail")
        raise ValueError("boom 42")
    """
)
HOSTILE = "import os\n\ndef main(backend, user_messenger):\n    os.system('id')\n"


def environment(home: Path, user: str | None = "alice", **extra: str) -> dict[str, str]:
    """The CLI's environment: this home, this user, no remote daemon, no COLUMNS."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("PROGRAM_ENGINE_")
        and key not in ("ENGINE_HOME", "ENGINE_DATABASE_URL", "COLUMNS")
    }
    env.update(ENGINE_HOME=str(home), **extra)
    if user is not None:
        env["PROGRAM_ENGINE_USER"] = user
    return env


def cli(home: Path, *args: str | Path, user: str | None = "alice", timeout: float = 300,
        program_traceback: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the console script; it never crashes with a traceback of its own."""
    result = subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True, text=True, cwd=REPO, env=environment(home, user, **extra),
        timeout=timeout,
    )
    if not program_traceback:  # a failed job's error shows the program's traceback
        assert "Traceback" not in result.stderr, result.stderr
    assert str(REPO / "engine") not in result.stderr, result.stderr
    return result


def ok(home: Path, *args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    result = cli(home, *args, **kwargs)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stderr}"
    return result


def as_json(home: Path, *args: str | Path, **kwargs):
    return json.loads(ok(home, *args, "--json", **kwargs).stdout)


def program_folder(tmp_path: Path, name: str, source: str, metadata: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.py").write_text(source)
    (folder / f"{name}.json").write_text(json.dumps(metadata))
    return folder


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def test_the_console_script_has_both_groups():
    assert SCRIPT.exists(), "install the project first (scripts/setup)"
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True,
                            timeout=60)
    assert "programs" in result.stdout and "jobs" in result.stdout


# --- refusals: no Docker needed ------------------------------------------------------------


def test_unknown_ids_exit_2_with_one_line(home):
    for args, what in [
        (("programs", "show", "no-such-program"), "program 'no-such-program' not found"),
        (("jobs", "show", "nosuchjob"), "job 'nosuchjob' not found"),
        (("jobs", "result", "nosuchjob", "--json"), "job 'nosuchjob' not found"),
        (("programs", "delete", "no-such-program"), "program 'no-such-program' not found"),
    ]:
        result = cli(home, *args)
        assert result.returncode == 2, args
        assert f"error: {what}" in result.stderr.splitlines()
        assert result.stdout == ""


def test_bad_metadata_exits_2_naming_the_fields_and_stores_nothing(home, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "hello", "max_execution_time": -1}))
    result = cli(home, "programs", "upload", HELLO, "--metadata", bad)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "description: required field is missing" in line
    assert "max_execution_time: must be a positive number" in line
    assert as_json(home, "programs", "list") == []


def test_a_scanner_rejection_exits_1_with_the_findings(home, tmp_path):
    folder = program_folder(tmp_path, "hostile", HOSTILE, {**SLEEPER_METADATA, "name": "hostile"})
    result = cli(home, "programs", "upload", folder)
    assert result.returncode == 1
    assert "hostile.py:1 PE101" in result.stderr and "'os'" in result.stderr
    assert "rejected by the static review" in result.stderr
    assert result.stdout == ""

    report = json.loads(cli(home, "programs", "upload", folder, "--json").stdout)
    assert report["verdict"] == "rejected" and report["accepted"] is False
    [file] = report["files"]
    assert file["file"] == "hostile.py"
    assert "PE101" in {finding["rule_id"] for finding in file["findings"]}
    assert as_json(home, "programs", "list") == []


def test_usage_errors_exit_2(home):
    result = cli(home, "programs", "update", "some-id")
    assert result.returncode == 2 and "nothing to update" in result.stderr
    result = cli(home, "jobs", "run", "some-id", "--input", "name=bare")
    assert result.returncode == 2 and "--input name: value 'bare' is not JSON" in result.stderr
    result = cli(home, "programs", "list", "--home", home, PROGRAM_ENGINE_URL="http://127.0.0.1:9")
    assert result.returncode == 2 and "--home applies to the embedded store" in result.stderr
    result = cli(home, "jobs", "list", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2 and result.stdout == ""


# --- programs ------------------------------------------------------------------------------


@pytest.mark.docker
def test_program_lifecycle(home, runtime_image):
    program_id = ok(home, "programs", "upload", HELLO).stdout.strip()
    assert program_id.startswith("hello-world-")

    table = ok(home, "programs", "list").stdout
    header, row = table.strip().splitlines()
    assert header.split() == ["id", "name", "version", "owner", "public", "created"]
    assert row.split()[:5] == [program_id, "hello-world", "1", "alice", "no"]
    [listed] = as_json(home, "programs", "list")
    assert listed["id"] == program_id and listed["owner"] == "alice"
    assert listed["is_public"] is False and listed["version"] == 1

    summary = ok(home, "programs", "show", program_id).stdout
    assert summary.startswith(f"{program_id}:") and "Name: hello-world" in summary
    assert "- iterations:" in summary
    shown = as_json(home, "programs", "show", program_id)
    assert shown["parameters"]["required"] == ["iterations"]
    assert shown["backend_requirements"] == {"min_num_qubits": 5}

    updated = as_json(home, "programs", "update", program_id, "--description", "Says hello.")
    assert (updated["id"], updated["version"]) == (program_id, 2)
    assert updated["description"] == "Says hello."
    ok(home, "programs", "update", program_id, HELLO / "hello_world.py",
       "--max-execution-time", "60")
    again = as_json(home, "programs", "show", program_id)
    assert (again["version"], again["max_execution_time"]) == (3, 60)
    assert again["creation_date"] == listed["creation_date"]

    # Another user: a private program is invisible; a public one is read-only.
    result = cli(home, "programs", "show", program_id, user="bob")
    assert result.returncode == 2 and "not found" in result.stderr
    assert as_json(home, "programs", "visibility", program_id, "public")["is_public"] is True
    assert [p["id"] for p in as_json(home, "programs", "list", user="bob")] == [program_id]
    result = cli(home, "programs", "delete", program_id, user="bob")
    assert result.returncode == 2 and "belongs to another user" in result.stderr
    result = ok(home, "programs", "visibility", program_id, "private")
    assert f"{program_id} is now private" in result.stderr
    assert as_json(home, "programs", "list", user="bob") == []

    assert as_json(home, "programs", "delete", program_id) == {"id": program_id, "deleted": True}
    assert cli(home, "programs", "show", program_id).returncode == 2
    assert "no programs" in ok(home, "programs", "list").stderr


# --- jobs ----------------------------------------------------------------------------------


@pytest.mark.docker
def test_run_wait_streams_interim_results_then_the_result(home, runtime_image):
    program_id = ok(home, "programs", "upload", HELLO).stdout.strip()
    for args, expected in [
        (("--input", "iterations=-1"), "iterations"),  # the program's schema
        (("--input", "iterations=1", "--backend", "nope"), "unknown backend"),
        (("--input", "iterations=1", "--backend", "fake_3q"), "at least 5 qubits"),
    ]:
        refused = cli(home, "jobs", "run", program_id, *args)
        assert refused.returncode == 2 and expected in refused.stderr, args
        assert len(refused.stderr.strip().splitlines()) == 1
    assert as_json(home, "jobs", "list") == []  # refusals store nothing

    run = ok(home, "jobs", "run", program_id, "--input", "iterations=2", "--wait")
    *interim_lines, result_line = run.stdout.strip().splitlines()
    interim = [json.loads(line) for line in interim_lines]
    assert [message["iteration"] for message in interim] == [0, 1]
    assert all(sum(message["counts"].values()) > 0 for message in interim)
    assert json.loads(result_line) == "Hello, World!"
    assert " queued (program " in run.stderr and ": DONE in " in run.stderr
    job_id = run.stderr.split()[1]

    [listed] = as_json(home, "jobs", "list")
    assert (listed["id"], listed["program_id"], listed["status"]) == (job_id, program_id, "DONE")
    assert listed["inputs"] == {"iterations": 2} and listed["reason"] is None
    header, row = ok(home, "jobs", "list").stdout.strip().splitlines()
    assert header.split() == ["id", "program", "status", "reason", "backend", "created"]
    assert row.split()[:3] == [job_id, program_id, "DONE"]
    assert as_json(home, "jobs", "list", "--status", "error") == []
    assert [j["id"] for j in as_json(home, "jobs", "list", "--program", program_id)] == [job_id]

    shown = as_json(home, "jobs", "show", job_id)
    assert shown["metrics"]["wall_seconds"] > 0 and shown["metrics"]["backend_calls"] == 2
    assert shown["error"] is None
    details = {}
    for line in ok(home, "jobs", "show", job_id).stdout.strip().splitlines():
        key, _, value = line.partition(" ")
        details[key] = value.strip()
    assert (details["id"], details["status"], details["reason"]) == (job_id, "DONE", "")
    assert details["backend_calls"] == "2" and details["inputs"] == '{"iterations": 2}'

    assert json.loads(ok(home, "jobs", "result", job_id).stdout) == "Hello, World!"
    assert as_json(home, "jobs", "result", job_id)["result"] == "Hello, World!"
    replay = [json.loads(line) for line in ok(home, "jobs", "interim", job_id).stdout.splitlines()]
    assert replay == interim == as_json(home, "jobs", "interim", job_id)
    assert as_json(home, "jobs", "logs", job_id) == {"id": job_id, "logs": ""}

    everything = as_json(home, "jobs", "run", program_id, "--input", "iterations=1", "--wait")
    assert everything["status"] == "DONE" and everything["result"] == "Hello, World!"
    assert [m["iteration"] for m in everything["interim_results"]] == [0]

    assert as_json(home, "jobs", "delete", job_id) == {"id": job_id, "deleted": True}
    assert cli(home, "jobs", "show", job_id).returncode == 2
    assert [j["id"] for j in as_json(home, "jobs", "list")] == [everything["id"]]


@pytest.mark.docker
def test_a_failed_job_exits_1_with_its_error(home, tmp_path, runtime_image):
    folder = program_folder(tmp_path, "failing", FAILING, {**SLEEPER_METADATA, "name": "failing"})
    program_id = ok(home, "programs", "upload", folder).stdout.strip()
    run = cli(home, "jobs", "run", program_id, "--wait", program_traceback=True)
    assert run.returncode == 1
    assert "ERROR (program_exception)" in run.stderr and "boom 42" in run.stderr
    job_id = run.stderr.split()[1]
    result = cli(home, "jobs", "result", job_id, "--json")
    assert result.returncode == 1
    failed = json.loads(result.stdout)
    assert (failed["status"], failed["reason"], failed["result"]) == (
        "ERROR", "program_exception", None)
    assert failed["error"]["type"] == "ValueError" and failed["error"]["message"] == "boom 42"
    assert ok(home, "jobs", "logs", job_id).stdout == "about to fail\n"


@pytest.mark.docker
def test_cancel_a_running_job_from_another_cli_call(home, tmp_path, runtime_image):
    import docker as docker_sdk

    from engine.sandbox.container import LABEL_JOB

    folder = program_folder(tmp_path, "sleeper", SLEEPER, SLEEPER_METADATA)
    program_id = ok(home, "programs", "upload", folder).stdout.strip()
    runner = subprocess.Popen(
        [str(SCRIPT), "jobs", "run", program_id, "--input", "seconds=120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env=environment(home),
    )
    try:
        job_id = runner.stdout.readline().strip()
        assert job_id, runner.stderr.read()
        deadline = time.monotonic() + 60
        while not as_json(home, "jobs", "interim", job_id) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert as_json(home, "jobs", "show", job_id)["status"] == "RUNNING"

        cancelled = ok(home, "jobs", "cancel", job_id)
        assert f"job {job_id}" in cancelled.stderr
        assert runner.wait(timeout=60) == 1
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            runner.wait(timeout=60)
    assert f"job {job_id}: CANCELLED (user)" in runner.stderr.read()
    shown = as_json(home, "jobs", "show", job_id)
    assert (shown["status"], shown["reason"]) == ("CANCELLED", "user")
    assert cli(home, "jobs", "result", job_id).returncode == 1
    assert "already ended (CANCELLED)" in ok(home, "jobs", "cancel", job_id).stderr
    client = docker_sdk.from_env()
    assert client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"}) == []


@pytest.mark.docker
def test_jobs_the_run_process_took_from_the_queue_end_normally(home, tmp_path, runtime_image):
    """`jobs run` executes the shared queue; exiting must not cut another user's job short."""
    from engine import RuntimeService

    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    service_policy = yaml.safe_load((policies / "service.yaml").read_text())
    service_policy["shutdown_grace_seconds"] = 0  # closing would cancel held jobs at once
    (policies / "service.yaml").write_text(yaml.safe_dump(service_policy))

    folder = program_folder(tmp_path, "sleeper", SLEEPER, SLEEPER_METADATA)
    program_id = ok(home, "programs", "upload", folder).stdout.strip()
    ok(home, "programs", "visibility", program_id, "public")
    with RuntimeService(home=home, user="bob", executor=None) as bob:
        bobs_job = bob.run(program_id, {"seconds": 4}).job_id()  # queued; nobody runs it yet

    run = ok(home, "jobs", "run", program_id, "--input", "seconds=0", "--wait",
             ENGINE_POLICY_DIR=str(policies))
    assert json.loads(run.stdout.strip().splitlines()[-1]) == "slept"
    bobs = as_json(home, "jobs", "show", bobs_job, user="bob")
    assert (bobs["status"], bobs["reason"]) == ("DONE", None), bobs["error"]
    assert f"also runs job(s) {bobs_job}" in run.stderr


@pytest.mark.docker
def test_jobs_logs_follow_prints_as_the_job_prints_until_it_ends(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = program_folder(tmp_path, "talker", TALKER, TALKER_METADATA)
    program_id = ok(home, "programs", "upload", folder).stdout.strip()
    runner = subprocess.Popen(
        [str(SCRIPT), "jobs", "run", program_id, "--input", "seconds=15"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env=environment(home))
    try:
        assert runner.stdout is not None
        job_id = runner.stdout.readline().strip()
        follower = subprocess.Popen(
            [str(SCRIPT), "jobs", "logs", job_id, "--follow"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=REPO, env=environment(home))
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first line\n"
        # Seen while the job still runs: the last line comes seconds later.
        assert as_json(home, "jobs", "show", job_id)["status"] == "RUNNING"
        rest, _ = follower.communicate(timeout=120)
        assert rest == "last line\n" and follower.returncode == 0
    finally:
        runner.communicate(timeout=120)
    assert runner.returncode == 0


@pytest.mark.docker
def test_run_shows_what_the_program_prints_on_stderr_and_keeps_stdout_the_result(
    tmp_path: Path,
) -> None:
    folder = program_folder(tmp_path, "talker", TALKER, TALKER_METADATA)
    result = ok(tmp_path / "home", "run", folder, "--input", "seconds=0", "--json")
    assert json.loads(result.stdout)["result"] == "talked"
    assert "first line\nlast line\n" in result.stderr
