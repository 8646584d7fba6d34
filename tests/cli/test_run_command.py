"""``program-engine run``, the README's first command, end to end through the console script.

Every case is a separate process with real Docker: the exit codes (0 DONE, 1 ERROR,
CANCELLED or a rejected scan, 2 usage or no Docker), ``--scan reject`` and ``--scan warn``,
the ``--json`` document, and each end state of the README's table. Programs that the static
review rejects are run with ``--scan warn`` (that is what it is for).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine import RuntimeDecoder
from engine.documents import JobDocument
from tests.cli.test_service_cli import FAILING, HELLO, REPO, cli

pytestmark = pytest.mark.docker

HOSTILE = REPO / "tests" / "sandbox" / "hostile"
# The one job document: the keys of GET /v1/jobs/{id} and of jobs show --json.
JSON_KEYS = list(JobDocument.model_fields)

COMPLEX = textwrap.dedent(
    """
    def main(backend, user_messenger, **kwargs):
        user_messenger.publish({"step": 1, "value": complex(0, 1)})
        return {"value": complex(1, 2), "label": "done"}
    """
)
EVAL = "def main(backend, user_messenger):\n    return eval('40 + 2')\n"
EXIT_0 = "import os\n\n\ndef main(backend, user_messenger):\n    os._exit(0)\n"
SIGKILL_SELF = (
    "import os\nimport signal\n\n\n"
    "def main(backend, user_messenger):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def _program(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def _run(tmp_path: Path, *args: str | Path, **kwargs):
    return cli(tmp_path / "home", "run", *args, **kwargs)


def _run_json(tmp_path: Path, *args: str | Path, code: int) -> dict:
    """``run ... --json``: its exit code must be ``code``; its stdout is one JSON object."""
    result = _run(tmp_path, *args, "--json")
    assert result.returncode == code, f"exit {result.returncode}\n{result.stderr}"
    document = json.loads(result.stdout)
    assert list(document) == JSON_KEYS
    return document


# --- DONE, and the shape of --json -------------------------------------------------------------


def test_hello_world_streams_its_interim_results_and_exits_0(tmp_path: Path) -> None:
    result = _run(tmp_path, HELLO, "--input", "iterations=2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    interim = [json.loads(line) for line in lines[:-1]]
    assert [message["iteration"] for message in interim] == [0, 1]
    assert all(sum(message["counts"].values()) == 1024 for message in interim), interim
    assert json.loads(lines[-1]) == "Hello, World!"
    assert "DONE in" in result.stderr


def test_json_is_one_object_in_runtime_encoder_form(tmp_path: Path) -> None:
    program = _program(tmp_path, "complex_result", COMPLEX)
    result = _run(tmp_path, program, "--json")
    assert result.returncode == 0, result.stderr
    raw = json.loads(result.stdout)
    assert list(raw) == JSON_KEYS
    assert (raw["status"], raw["reason"], raw["error"]) == ("DONE", None, None)
    # Values stay in the wire form: RuntimeDecoder turns them back into Python values.
    assert raw["result"]["value"] == {"__type__": "complex", "__value__": [1.0, 2.0]}
    decoded = json.loads(result.stdout, cls=RuntimeDecoder)
    assert decoded["result"] == {"value": 1 + 2j, "label": "done"}
    assert decoded["interim_results"] == [{"step": 1, "value": 1j}]
    assert isinstance(raw["logs"], str)
    assert raw["metrics"]["interim_messages"] == 1
    assert raw["metrics"]["wall_seconds"] > 0


# --- the static review ---------------------------------------------------------------------


def test_scan_reject_refuses_before_running_and_exits_1(tmp_path: Path) -> None:
    program = _program(tmp_path, "uses_eval", EVAL)
    for extra in ([], ["--json"], ["--scan", "reject"]):
        result = _run(tmp_path, program, *extra)
        assert result.returncode == 1, result.stderr
        assert result.stdout == ""  # nothing ran, so there is no result
        assert "rejected by the static review" in result.stderr
        assert "PE201" in result.stderr


def test_scan_warn_shows_the_findings_and_runs_it(tmp_path: Path) -> None:
    program = _program(tmp_path, "uses_eval", EVAL)
    result = _run(tmp_path, program, "--scan", "warn")
    assert result.returncode == 0, result.stderr
    assert "PE201" in result.stderr and "running it anyway" in result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == 42
    document = _run_json(tmp_path, program, "--scan", "warn", code=0)
    assert (document["status"], document["result"]) == ("DONE", 42)


# --- ERROR and CANCELLED: every end state of the README's table --------------------------------


def test_program_exception_exits_1_with_the_error(tmp_path: Path) -> None:
    program = _program(tmp_path, "failing", FAILING)
    result = _run(tmp_path, program, program_traceback=True)
    assert result.returncode == 1
    assert "ERROR (program_exception)" in result.stderr
    assert "ValueError: boom 42" in result.stderr and "about to fail" in result.stderr
    document = _run_json(tmp_path, program, code=1)
    assert (document["status"], document["reason"]) == ("ERROR", "program_exception")
    assert document["result"] is None
    assert document["error"]["type"] == "ValueError"
    assert document["error"]["message"] == "boom 42"
    assert "failing.py" in document["error"]["traceback"]
    assert "about to fail" in document["logs"]


@pytest.mark.parametrize(("name", "args", "status", "reason", "error_type"), [
    ("memory_bomb", ["--profile", "small"], "ERROR", "out_of_memory", "OutOfMemory"),
    ("protocol_fd_garbage", ["--input", 'what="garbage"'], "ERROR", "protocol_violation",
     "ProtocolViolation"),
    ("huge_circuit", ["--input", "catch=false"], "ERROR", "backend_rejected",
     "BackendRejected"),
    ("unserializable_result", [], "ERROR", "result_not_serializable",
     "ResultNotSerializable"),
    ("busy_loop", ["--max-execution-time", "3"], "CANCELLED", "ran_too_long", "RanTooLong"),
])
def test_end_state(tmp_path: Path, name: str, args: list[str], status: str, reason: str,
                   error_type: str) -> None:
    document = _run_json(tmp_path, HOSTILE / f"{name}.py", "--scan", "warn", *args, code=1)
    assert (document["status"], document["reason"]) == (status, reason), document["error"]
    assert document["error"]["type"] == error_type
    assert document["result"] is None


@pytest.mark.parametrize("source", [EXIT_0, SIGKILL_SELF], ids=["os._exit(0)", "SIGKILL"])
def test_a_program_that_ends_its_own_process_is_sandbox_crashed(tmp_path: Path,
                                                                source: str) -> None:
    program = _program(tmp_path, "crash", source)
    document = _run_json(tmp_path, program, "--scan", "warn", code=1)
    assert (document["status"], document["reason"]) == ("ERROR", "sandbox_crashed")
    assert document["error"]["type"] == "SandboxCrashed"
    assert document["result"] is None
    result = _run(tmp_path, program, "--scan", "warn")
    assert result.returncode == 1 and "ERROR (sandbox_crashed)" in result.stderr


# --- usage errors and no Docker: exit 2 ----------------------------------------------------


@pytest.mark.parametrize("args", [
    ["no/such/program"],
    [str(HELLO), "--input", "iterations=not-json"],
    [str(HELLO), "--input", "iterations=-1"],  # the schema wants at least 0
    [str(HELLO), "--profile", "no-such-profile"],
    [str(HELLO), "--scan", "maybe"],
])
def test_a_usage_error_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""


def test_no_docker_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, HELLO, DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    assert result.returncode == 2, result.stderr
    assert "error:" in result.stderr and result.stdout == ""
