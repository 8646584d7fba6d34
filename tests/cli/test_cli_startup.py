"""The reading commands start without the heavy libraries they do not need.

``jobs list``, ``jobs show`` and ``programs list`` answer from the store alone: Qiskit (and
NumPy with it) is imported only to decode a result or a circuit, Alembic only to upgrade a
store behind the newest migration, the Docker SDK only to run or reap sandboxes, and the
scanner only to review an upload. Each command runs as its own process against a real
SQLite store; a small wrapper reports the modules it imported. How fast they start is
measured by ``bench/cli_startup.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import open_database

REPO = Path(__file__).resolve().parent.parent.parent
HEAVY = ("qiskit", "qiskit_aer", "numpy", "alembic", "docker", "jsonschema", "bandit")
#: Runs the console script's ``main`` and writes the top-level modules it imported to a file.
WRAPPER = (
    "import atexit, json, sys\n"
    "report = sys.argv[1]\n"
    "def _report():\n"
    "    with open(report, 'w') as handle:\n"
    "        json.dump(sorted({name.split('.')[0] for name in sys.modules}), handle)\n"
    "atexit.register(_report)\n"
    "sys.argv = ['program-engine', *sys.argv[2:]]\n"
    "from engine.cli import main\n"
    "main()\n"
)
INPUTS = {"iterations": 2, "phase": {"__type__": "complex", "__value__": [0.5, -1.0]}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A migrated store with a program and two jobs of alice's, one DONE with a result."""
    home = tmp_path_factory.mktemp("home")
    source = b"def main(backend, user_messenger, **kwargs):\n    return kwargs\n"
    with open_database(home=home) as db, db.write() as tx:
        program = tx.programs.create(
            name="hello-world", owner="alice",
            metadata={"name": "hello-world", "description": "A program.",
                      "max_execution_time": 300},
            source_hash="0" * 64, entry="hello_world", files={"hello_world.py": source},
        )
        done = tx.jobs.create(program_id=program.id, program_version=1, owner="alice",
                              backend="aer_simulator", inputs=json.dumps(INPUTS))
        tx.jobs.finish(done.id, "DONE", result='{"__type__": "complex", "__value__": [1, 2]}')
        tx.jobs.create(program_id=program.id, program_version=1, owner="alice",
                       backend="aer_simulator", inputs="{}")
    return home, done.id


def _run(home: Path, tmp_path: Path, *args: str) -> tuple[str, set[str]]:
    """Run one command; return its stdout and the top-level modules the process imported."""
    report = tmp_path / "modules.json"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PROGRAM_ENGINE_") and key != "ENGINE_DATABASE_URL"}
    env.update(ENGINE_HOME=str(home), PROGRAM_ENGINE_USER="alice")
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *args],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout, set(json.loads(report.read_text()))


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("command", [["jobs", "list"], ["jobs", "show"], ["programs", "list"]],
                         ids=" ".join)
def test_reading_commands_import_no_heavy_library(
    store: tuple[Path, str], tmp_path: Path, command: list[str], as_json: bool
) -> None:
    home, job_id = store
    args = [*command, *([job_id] if command[-1] == "show" else []),
            *(["--json"] if as_json else [])]
    stdout, modules = _run(home, tmp_path, *args)

    assert modules & set(HEAVY) == set()
    assert "sqlalchemy" in modules  # the wrapper does see what the command imported
    if as_json and command == ["jobs", "show"]:
        shown = json.loads(stdout)
        assert shown["id"] == job_id and shown["status"] == "DONE"
        assert shown["inputs"] == INPUTS  # the wire form, typed values left encoded
    elif as_json:
        assert len(json.loads(stdout)) == (2 if command[0] == "jobs" else 1)
    else:
        assert job_id in stdout if command[0] == "jobs" else "hello-world" in stdout


def test_the_wrapper_sees_qiskit_when_a_result_is_decoded(
    store: tuple[Path, str], tmp_path: Path
) -> None:
    """The check above can fail: decoding a result through the service does import Qiskit."""
    home, job_id = store
    probe = ("import sys; from engine import RuntimeService; "
             f"s = RuntimeService(home={str(home)!r}, user='alice', executor=None); "
             f"print(s.job({job_id!r}).result()); "
             "print('qiskit' in sys.modules); s.close()")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1+2j)", "True"]
