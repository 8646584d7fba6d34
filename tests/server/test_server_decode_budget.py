"""Decode bombs in the inputs of ``POST /v1/jobs``: refused with 422, and the daemon stays small.

A fresh daemon per test: the first request imports what decoding needs, then the daemon's peak
RSS (``VmHWM``) is reset to what is resident, the bomb is posted, and the new peak compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.programs import SLEEPER, SLEEPER_METADATA
from tests.serialization.bombs import MIB, array_bomb, vector_bomb

pytestmark = pytest.mark.docker

# The most one refused request may raise the daemon's peak RSS (its budget is 1 GiB in all).
REFUSED_PEAK = 200 * MIB


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def _reset_peak(pid: int) -> int:
    """Reset the process's peak RSS (VmHWM) to what is resident now; return that."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status(pid, "VmRSS")


@pytest.mark.parametrize(
    ("bomb", "limit", "largest_body"),
    [(vector_bomb, "max_parameter_vector_length", 1500),
     (array_bomb, "max_array_bytes", int(1.5 * MIB))],
)
def test_bomb_in_job_inputs_is_refused_before_it_is_built(
    start_daemon, bomb, limit: str, largest_body: int
) -> None:
    daemon = start_daemon()
    alice = daemon.http(daemon.user("alice"))
    upload = {"file": ("sleeper.py", SLEEPER.encode())}
    created = alice.post("/v1/programs", files=upload,
                         data={"metadata": json.dumps(SLEEPER_METADATA)})
    assert created.status_code == 201, created.text
    program_id = created.json()["id"]
    warm = alice.post("/v1/jobs", json={"program_id": program_id, "inputs": {"seconds": "x"}})
    assert warm.status_code == 422  # decoded and validated: the decoder's imports are done

    body = json.dumps({"program_id": program_id, "inputs": {"payload": json.loads(bomb())}})
    assert len(body) < largest_body
    before = _reset_peak(daemon.process.pid)
    response = alice.post("/v1/jobs", content=body,
                          headers={"Content-Type": "application/json"})
    rise = _status(daemon.process.pid, "VmHWM") - before

    assert response.status_code == 422, response.text
    assert limit in response.json()["detail"]
    assert rise < REFUSED_PEAK, f"the daemon's peak RSS rose by {rise} bytes"
    assert alice.get("/v1/jobs").json()["jobs"] == []  # nothing was stored
    assert alice.get("/healthz").status_code == 200
