"""Benchmark of the CLI's start-up (not a test): how long common commands take, end to end.

Each command runs as a fresh process of the ``program-engine`` console script, against a
SQLite store holding 20 programs and 200 jobs (a quarter of them DONE with a result), taking
turns so that load drifts hit every command alike. Target for each: under 0.5 s of wall time.
The CPU time each process used (user + system) is printed too: on a busy machine it moves
far less than the wall time, so it tells a slower command from a slower machine.

- ``program-engine --help``;
- ``program-engine jobs list`` (the newest 10 jobs);
- ``program-engine programs list`` (the newest 20 programs, metadata decoded for the table);
- ``program-engine jobs show ID``;
- ``program-engine jobs list`` through the service, for comparison: what the command costs
  when it cannot read the SQLite file on its own (a PostgreSQL store, a config file; here an
  empty config file named by ``$ENGINE_CONFIG``). No target: it is not what a user of the
  default store waits for.

The children run without ``PYTHONDONTWRITEBYTECODE`` (dropped from their environment even
when this shell sets it): an installed package has its ``.pyc`` files, as pip compiles them
at install, so a child that compiled every module afresh would time the compiler. One
untimed run of each command first writes them (and fills the file cache).

Run: ``.venv/bin/python bench/cli_startup.py [--runs N] [--quick]``. No Docker needed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from table import Figure, Target, add_quick_flag, child_environment, print_figures, timed

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("program-engine")
TARGET_MS = 500
SOURCE = b"def main(backend, user_messenger, **kwargs):\n    return kwargs\n"
SERVICE_PATH = "program-engine jobs list, through the service"


def fill_store(home: Path, *, programs: int, jobs: int) -> str:
    """Store ``programs`` programs and ``jobs`` jobs of user ``bench``; return a DONE job's id."""
    from engine.store import open_database

    metadata = json.loads((REPO / "program_source/hello_world/hello_world.json").read_text())
    done_id = ""
    with open_database(home=home) as db, db.write() as tx:
        ids = [
            tx.programs.create(
                name=f"program-{index}", owner="bench",
                metadata={**metadata, "name": f"program-{index}"},
                source_hash=f"{index:064x}", entry="hello_world",
                files={"hello_world.py": SOURCE},
            ).id
            for index in range(programs)
        ]
        for index in range(jobs):
            job = tx.jobs.create(program_id=ids[index % programs], program_version=1,
                                 owner="bench", backend="aer_simulator",
                                 inputs=json.dumps({"iterations": index}))
            if index % 4 == 0:
                tx.jobs.finish(job.id, "DONE", result=json.dumps("All done!"),
                               metrics={"wall_seconds": 0.8, "cpu_seconds": 0.5})
                done_id = job.id
    return done_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    add_quick_flag(parser)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        job_id = fill_store(home, programs=20, jobs=200)
        env = child_environment(
            drop_prefixes=("PROGRAM_ENGINE_", "ENGINE_DATABASE_URL"),
            ENGINE_HOME=str(home), PROGRAM_ENGINE_USER="bench",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        config = home / "config.yaml"
        config.write_text("{}\n")  # changes no setting; only the service's settings read it
        commands = {
            "program-engine --help": ["--help"],
            "program-engine jobs list": ["jobs", "list"],
            "program-engine programs list": ["programs", "list"],
            "program-engine jobs show ID": ["jobs", "show", job_id],
            SERVICE_PATH: ["jobs", "list"],
        }

        def command(arguments: list[str], name: str = ""):
            child = {**env, "ENGINE_CONFIG": str(config)} if name == SERVICE_PATH else env
            return lambda: subprocess.run([str(SCRIPT), *arguments], check=True,
                                          capture_output=True, env=child, cwd=REPO)

        for name, arguments in commands.items():  # once each first: the file cache, .pyc files
            command(arguments, name)()
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # taking turns
            for name, arguments in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall[name].append(timed(command(arguments, name)) * 1000)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append((after.ru_utime + after.ru_stime
                                  - before.ru_utime - before.ru_stime) * 1000)
    figures = [Figure(name, wall[name], "ms",
                      None if name == SERVICE_PATH else Target.below(TARGET_MS), decimals=0)
               for name in commands]
    figures += [Figure(f"{name} (CPU time)", cpu[name], "ms", decimals=0) for name in commands]
    print_figures(figures, title="CLI start-up, fresh process each, 20 programs and 200 jobs "
                                 "stored")

if __name__ == "__main__":
    main()
