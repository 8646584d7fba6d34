"""A script that submits embedded jobs and reaches its end waits for them, as a thread pool
does; Ctrl-C while it waits cancels them (``CANCELLED``, reason ``user``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.service import RuntimeService
from tests.programs import SLEEPER, SLEEPER_METADATA

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from engine import RuntimeService

    service = RuntimeService(home=sys.argv[1], user="alice")
    program_id = service.upload_program(sys.argv[2], json.loads(sys.argv[3]))
    job = service.run(program_id, {"seconds": float(sys.argv[4])})
    print(job.job_id(), flush=True)
    # The script ends here without waiting for its job.
    """
)


def _start(home: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(home), SLEEPER, json.dumps(SLEEPER_METADATA),
         str(seconds)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _job(home: Path, job_id: str):
    with RuntimeService(home=home, user="alice", executor=None) as service:
        return service.job_record(job_id)


def test_a_script_that_reaches_its_end_waits_for_its_running_job(tmp_path: Path) -> None:
    process = _start(tmp_path, seconds=3)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    job_id = out.split()[-1]
    assert "waiting for 1 job(s) to end" in err and job_id in err
    record = _job(tmp_path, job_id)
    assert (record.status.value, record.reason) == ("DONE", None)


def test_ctrl_c_while_waiting_cancels_the_running_job(tmp_path: Path) -> None:
    process = _start(tmp_path, seconds=60)
    assert process.stdout is not None and process.stderr is not None
    job_id = process.stdout.readline().strip()
    deadline = time.monotonic() + 120
    seen = ""
    while "waiting for" not in seen:
        assert time.monotonic() < deadline, seen
        seen += process.stderr.readline()
    time.sleep(1.0)  # the job is running in its sandbox
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert "cancelling the jobs" in err, err
    record = _job(tmp_path, job_id)
    assert (record.status.value, record.reason) == ("CANCELLED", "user")
