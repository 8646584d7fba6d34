"""The reading commands start without the heavy libraries they do not need.

``jobs list``, ``jobs show`` and ``programs list`` answer from the store alone: Qiskit (and
NumPy with it) is imported only to decode a result or a circuit, Alembic only to upgrade a
store behind the newest migration, the Docker SDK only to run or reap sandboxes, and the
scanner only to review an upload. On a SQLite store they do not open the service at all
(:mod:`engine.quick_reads`): no SQLAlchemy, no pydantic-settings, and the same output as
through the service, which a config file (``$ENGINE_CONFIG``) makes them use. Each command
runs as its own process against a real SQLite store; a small wrapper reports the modules it
imported. How fast they start is measured by ``bench/cli_startup.py``, not here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import open_database

REPO = Path(__file__).resolve().parent.parent.parent
HEAVY = ("qiskit", "qiskit_aer", "numpy", "alembic", "docker", "jsonschema", "bandit")
#: What the service needs and a listing of a SQLite store does not.
SERVICE = ("sqlalchemy", "pydantic_settings", "engine.service", "engine.store.database")
#: Runs the console script's ``main`` and writes the modules it imported to a file.
WRAPPER = (
    "import atexit, json, sys\n"
    "report = sys.argv[1]\n"
    "def _report():\n"
    "    with open(report, 'w') as handle:\n"
    "        json.dump(sorted(sys.modules), handle)\n"
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


def _run(home: Path, tmp_path: Path, *args: str, **extra: str) -> tuple[str, set[str]]:
    """Run one command; return its stdout and the modules the process imported (each
    module's full name, and each package's top-level name)."""
    report = tmp_path / "modules.json"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PROGRAM_ENGINE_")
           and key not in ("ENGINE_DATABASE_URL", "ENGINE_CONFIG", "COLUMNS")}
    env.update(ENGINE_HOME=str(home), PROGRAM_ENGINE_USER="alice", **extra)
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *args],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(report.read_text()))
    return done.stdout, modules | {name.split(".")[0] for name in modules}


def _through_the_service(tmp_path: Path) -> dict[str, str]:
    """The environment that makes the reading commands open the service: a config file
    (empty, so it changes no setting), which only the service's settings read."""
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    return {"ENGINE_CONFIG": str(config)}


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
    served, service_modules = _run(home, tmp_path, *args, **_through_the_service(tmp_path))

    assert modules & {*HEAVY, *SERVICE} == set()
    assert stdout == served  # byte for byte, table or JSON
    assert service_modules & set(HEAVY) == set()
    assert set(SERVICE) <= service_modules  # the wrapper does see what the command imported
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


def test_a_job_of_a_dead_engine_process_is_shown_as_the_service_ends_it(tmp_path: Path) -> None:
    """The service first ends the jobs of a dead engine process of this host; the command
    then takes the service's path, and shows the job ended."""
    home = tmp_path / "home"
    with open_database(home=home) as db, db.write() as tx:
        job = tx.jobs.create(program_id="gone-12345678", program_version=1, owner="alice",
                             backend="aer_simulator", inputs="{}")
        tx.jobs.claim_next(f"{socket.gethostname()}:{os.getpid()}:1")  # this pid, another start

    stdout, modules = _run(home, tmp_path, "jobs", "show", job.id, "--json")

    shown = json.loads(stdout)
    assert (shown["status"], shown["reason"]) == ("ERROR", "engine_restarted")
    assert "engine.service" in modules
