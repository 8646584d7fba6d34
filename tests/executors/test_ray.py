"""The Ray executor on a real two-node cluster, inside a loopback-only network namespace.

The cluster and every job on it run once per module in a child process
(``ray_scenarios.py``, under ``unshare --net``), so that nothing Ray starts can reach an
address other than 127.0.0.1; the store is PostgreSQL, reached over its unix socket. The
tests check the report it writes. Each sample's result is compared with the local executor's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine import RuntimeService

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SEEDED = ["circuit_runner", "qaoa", "sample_program", "vqe"]

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.ray,
              pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def report(postgres_url: str, runtime_image: str, tmp_path_factory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("ray") / "report.json"
    run = subprocess.run(
        [sys.executable, str(HERE / "ray_scenarios.py"), postgres_url, str(path)],
        cwd=HERE, capture_output=True, text=True, timeout=840, check=False,
    )
    assert path.exists(), f"the scenarios wrote no report:\n{run.stderr[-4000:]}"
    data = json.loads(path.read_text())
    assert data.get("crash") is None, data["crash"]
    return data


@pytest.fixture(scope="module")
def local_results(tmp_path_factory) -> dict[str, Any]:
    """Each sample's stored result with the local executor (SQLite, this host)."""
    results = {}
    home = tmp_path_factory.mktemp("local-home")
    with RuntimeService(home=home, user="alice", executor="local") as service:
        for name in [*SEEDED, "hello_world"]:
            folder = REPO / "program_source" / name
            inputs_path = folder / "inputs.json"
            inputs = json.loads(inputs_path.read_text()) if inputs_path.exists() else {}
            job = service.run(service.upload_program(folder), inputs)
            job.wait_for_final_state(timeout=240)
            record = service.job_record(job.job_id())
            results[name] = {"result": record.result, "messages": record.message_count}
    return results


def test_the_cluster_ran_isolated_and_secured(report) -> None:
    assert report["only_loopback"] is True
    assert report["token_mode"] == "0o600"
    assert len(report["nodes"]) == 2


def test_a_driver_without_the_cluster_token_is_refused(report) -> None:
    drivers = report["drivers"]
    assert drivers["right"]["stdout"] == "CONNECTED 42", drivers["right"]
    for name in ("none", "wrong"):
        refused = drivers[name]
        assert refused["stdout"].startswith("REFUSED ConnectionError"), (name, refused)
        assert "InvalidAuthToken" in refused["stderr"], (name, refused["stderr"])


def test_jobs_spread_over_both_nodes(report) -> None:
    nodes = Counter(job["node"] for job in report["many"])
    assert set(nodes) == set(report["nodes"])
    assert min(nodes.values()) >= 5  # neither node merely touched


@pytest.mark.parametrize("name", SEEDED)
def test_seeded_sample_gives_the_local_executors_result(report, local_results, name) -> None:
    on_ray = report["samples"][name]
    assert on_ray["status"] == "DONE", on_ray
    assert on_ray["node"] in report["nodes"]
    assert on_ray["result"] == local_results[name]["result"]
    assert on_ray["messages"] == local_results[name]["messages"]


def test_hello_world_gives_the_local_executors_result(report, local_results) -> None:
    on_ray = report["samples"]["hello_world"]
    assert on_ray["status"] == "DONE"
    assert json.loads(on_ray["result"]) == json.loads(local_results["hello_world"]["result"])
    assert on_ray["messages"] == local_results["hello_world"]["messages"]


def test_cancel_removes_the_container(report) -> None:
    cancel = report["cancel"]
    assert cancel["had_container"] is True
    assert (cancel["status"], cancel["reason"]) == ("CANCELLED", "user")
    assert cancel["container_gone"] is True


def test_a_lost_node_ends_its_job_and_the_head_keeps_serving(report) -> None:
    loss = report["node_loss"]
    assert "error" not in loss, loss
    assert (loss["victim"]["status"], loss["victim"]["reason"]) == ("ERROR", "node_lost")
    assert loss["seconds_to_detect"] < 30
    assert loss["survivor"]["status"] == "DONE"
    assert loss["survivor"]["node"] != loss["victim"]["node"]
    assert loss["after"]["status"] == "DONE"
    assert loss["after"]["node"] == loss["survivor"]["node"]
    assert loss["orphan_reaped"] is True


def test_forty_jobs_none_lost_or_run_twice(report) -> None:
    jobs = report["many"]
    assert len(jobs) == 40
    assert all(job["status"] == "DONE" for job in jobs)
    assert sorted(json.loads(job["result"]) for job in jobs) == list(range(40))
    assert all(job["messages"] == 1 for job in jobs)  # one run each: one publish each


def test_every_ray_process_was_stopped(report) -> None:
    assert report["left_running"] == 0
