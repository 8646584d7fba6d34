"""``program-engine sandboxes``: another process's warm containers, by their labels."""

from __future__ import annotations

import pytest

from engine.sandbox.pool import WarmPool
from engine.submission import run_program
from tests.cli.test_service_cli import as_json, ok

pytestmark = pytest.mark.docker

PROBE = (
    "import re\n"
    "def main(backend, user_messenger, **kwargs):\n"
    "    with open('/proc/self/mountinfo') as handle:\n"
    "        return re.findall(r'/containers/([0-9a-f]{64})/hostname ', handle.read())[0]\n"
)


def test_a_reused_container_waiting_for_its_next_job_is_listed(docker, runtime_image, tmp_path):
    pool = WarmPool(docker, reuse=True)
    try:
        outcome = run_program(PROBE, {}, pool=pool)
        assert outcome.status == "DONE", outcome.error
        listed = as_json(tmp_path, "sandboxes")
        [mine] = [item for item in listed["sandboxes"] if item["id"] == outcome.result]
        assert mine["user"] == "local" and mine["job"] == outcome.spec.job_id
        assert mine["state"] == "running" and mine["memory_bytes"] > 16 << 20
        assert mine["processes"] == 2  # init and the fork server, waiting
        assert listed["idle_memory_budget_bytes"] > 0
        assert outcome.result[:12] in ok(tmp_path, "sandboxes").stdout
    finally:
        pool.close()
    listed = as_json(tmp_path, "sandboxes")
    assert outcome.result not in [item["id"] for item in listed["sandboxes"]]
