"""Running programs in real sandbox containers for the sandbox's end-to-end tests.

The ``sandbox`` fixture runs a program with :func:`engine.submission.run_program` under a job id
of its own, measures the wall time of the call, and checks after every run that the job's
container is gone. The programs of the hostile tests live in ``tests/sandbox/hostile/``.

A test about the wall takes ``wall_profile``: it runs once under each OCI runtime of
:data:`WALLS` (runc, and gVisor's runsc, which ``scripts/setup`` installs). A missing runtime
fails such a test when Docker is required (``ENGINE_REQUIRE_DOCKER=1``, CI), and never skips it
silently there.

With ``ENGINE_TEST_REUSE=1`` every run goes through a reusing warm pool and runs twice, the
same program with the same inputs: the run the test sees is the second, in the container the
first left behind (unless the first's end removed it). The whole suite then checks that each
end state holds on a reused container; it doubles the suite's time, so CI runs it apart.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.errors import SandboxUnavailable
from engine.process_identity import this_process
from engine.sandbox import Outcome, ResourceProfile, load_sandbox_policy
from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB, LABEL_OWNER
from engine.sandbox.runtimes import check_runtime
from engine.submission import run_program
from tests.conftest import docker_required

HOSTILE_DIR = Path(__file__).parent / "hostile"
JOB_PREFIX = "test-"
WALLS = ("runc", "runsc")  # the OCI runtimes every test about the wall runs under
REUSE = os.environ.get("ENGINE_TEST_REUSE", "") not in ("", "0")
# What the first of the two runs under ENGINE_TEST_REUSE leaves to the second.
_SECOND_RUN_ONLY = ("cancel", "on_interim", "on_log")


@dataclass
class SandboxRun:
    """One finished run: its outcome, the wall time of the call as the test saw it, its job."""

    outcome: Outcome
    wall: float
    job_id: str


class Sandbox:
    """Runs programs in the sandbox and answers questions about this process's containers."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, program: Any, inputs: dict[str, Any] | None = None,
            **options: Any) -> SandboxRun:
        """``run_program(program, inputs, **options)``, then check that its container is gone."""
        job_id = options.pop("job_id", None) or self.new_job_id()
        if REUSE and "pool" not in options:
            outcome, wall = self._run_reused(program, inputs or {}, job_id, options)
        else:
            started = time.monotonic()
            outcome = run_program(program, inputs or {}, job_id=job_id, **options)
            wall = time.monotonic() - started
        left = self.containers(job_id)
        assert left == [], f"the container of job {job_id} is still there: {left}"
        return SandboxRun(outcome, wall, job_id)

    def _run_reused(self, program: Any, inputs: dict[str, Any], job_id: str,
                    options: dict[str, Any]) -> tuple[Outcome, float]:
        from engine.sandbox.pool import WarmPool

        pool = WarmPool(self.client, reuse=True)
        try:
            first = {k: v for k, v in options.items() if k not in _SECOND_RUN_ONLY}
            run_program(program, inputs, job_id=self.new_job_id(), pool=pool, **first)
            started = time.monotonic()
            outcome = run_program(program, inputs, job_id=job_id, pool=pool, **options)
            return outcome, time.monotonic() - started
        finally:
            pool.close()

    def hostile(self, name: str) -> Path:
        """The path of ``tests/sandbox/hostile/NAME.py``."""
        path = HOSTILE_DIR / f"{name}.py"
        assert path.is_file(), path
        return path

    @staticmethod
    def new_job_id() -> str:
        return f"{JOB_PREFIX}{uuid.uuid4().hex[:12]}"

    def containers(self, job_id: str | None = None) -> list[str]:
        """Ids of the engine containers this test process created (of one job, if given)."""
        labels = [LABEL_ENGINE, f"{LABEL_OWNER}={this_process()}"]
        if job_id is not None:
            labels.append(f"{LABEL_JOB}={job_id}")
        found = self.client.api.containers(all=True, filters={"label": labels})
        return [info["Id"] for info in found]


@pytest.fixture(scope="session")
def sandbox(docker: Any, runtime_image: str) -> Sandbox:
    """A :class:`Sandbox` on the session's Docker client, with the runtime image built."""
    return Sandbox(docker)


@pytest.fixture(scope="session")
def hostile_profile() -> ResourceProfile:
    """The policy's ``small`` profile with a full core, so that the tests run quickly."""
    return load_sandbox_policy().profile("small").model_copy(update={"cpus": 1.0})


@pytest.fixture(scope="session", params=WALLS)
def wall(request: pytest.FixtureRequest, sandbox: Sandbox) -> str:
    """The OCI runtime of this run of a wall test; it must be registered with Docker."""
    try:
        check_runtime(sandbox.client, request.param)
    except SandboxUnavailable as exc:
        if docker_required():
            pytest.fail(f"the sandbox runtime {request.param} is required here: {exc}",
                        pytrace=False)
        pytest.skip(str(exc))
    return request.param


@pytest.fixture(scope="session")
def wall_profile(hostile_profile: ResourceProfile, wall: str) -> ResourceProfile:
    """``hostile_profile`` under the runtime ``wall``."""
    return hostile_profile.model_copy(update={"runtime": wall})
