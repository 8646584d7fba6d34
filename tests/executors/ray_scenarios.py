"""The Ray executor's scenarios on a real two-node cluster, run inside a loopback-only namespace.

    python ray_scenarios.py POSTGRES_URL REPORT_JSON

Re-executes itself under ``unshare --net``, starts the cluster (``ray_cluster.LocalCluster``),
runs every scenario through ``RuntimeService(executor="ray")`` on PostgreSQL (and drivers
with no token or a wrong one, which the cluster must refuse), writes what it
saw to REPORT_JSON for ``test_ray.py`` to check, and stops every Ray process it started.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import docker
import psutil
from ray_cluster import LocalCluster, enter_loopback_namespace, only_loopback

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: make the repository's tests importable

from tests.programs import SLEEPER  # noqa: E402

ECHO = (
    "def main(backend, user_messenger, i=0):\n"
    "    user_messenger.publish({'i': i})\n"
    "    return i\n"
)

# A driver that connects and runs one task; it prints CONNECTED, or REFUSED and the error.
DRIVER = (
    "import sys, ray\n"
    "try:\n"
    "    ray.init(address=sys.argv[1], log_to_driver=False)\n"
    "    print('CONNECTED', ray.get(ray.remote(lambda: 41 + 1).remote()))\n"
    "except Exception as exc:\n"
    "    print('REFUSED', type(exc).__name__, exc)\n"
)


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"{name}.", "max_execution_time": 120}


def _containers(job_id: str) -> list[Any]:
    client = docker.from_env()
    return client.containers.list(
        all=True, filters={"label": f"org.program-engine.job={job_id}"}
    )


def _owner_pid(container: Any) -> int:
    return int(container.labels["org.program-engine.owner"].rsplit(":", 2)[1])


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def _record(service: Any, job: Any) -> dict[str, Any]:
    record = service.job_record(job.job_id())
    return {
        "id": record.id,
        "status": str(record.status),
        "reason": record.reason,
        "result": record.result,
        "node": (record.metrics or {}).get("node"),
        "messages": record.message_count,
        "started_at": record.started_at.isoformat() if record.started_at else None,
    }


def samples(service: Any) -> dict[str, Any]:
    out = {}
    for folder in sorted(p for p in (REPO / "program_source").iterdir() if p.is_dir()):
        inputs_path = folder / "inputs.json"
        inputs = json.loads(inputs_path.read_text()) if inputs_path.exists() else {}
        program_id = service.upload_program(folder)
        job = service.run(program_id, inputs)
        job.wait_for_final_state(timeout=240)
        out[folder.name] = {**_record(service, job), "interim": job.interim_results()}
        out[folder.name]["interim"] = len(out[folder.name]["interim"])
    return out


def many_jobs(service: Any, count: int) -> list[dict[str, Any]]:
    program_id = service.upload_program(ECHO, _metadata("echo"))
    jobs = [service.run(program_id, {"i": i}) for i in range(count)]
    for job in jobs:
        job.wait_for_final_state(timeout=600)
    return [_record(service, job) for job in jobs]


def cancel(service: Any) -> dict[str, Any]:
    program_id = service.upload_program(SLEEPER, _metadata("sleeper"))
    job = service.run(program_id, {"seconds": 120})
    _wait(lambda: bool(job.interim_results()), 120)
    had_container = bool(_containers(job.job_id()))
    asked = time.monotonic()
    job.cancel()
    job.wait_for_final_state(timeout=60)
    stopped = time.monotonic() - asked
    gone = _wait(lambda: not _containers(job.job_id()), 15)
    return {**_record(service, job), "had_container": had_container, "container_gone": gone,
            "seconds_to_stop": stopped}


def node_loss(service: Any, cluster: LocalCluster) -> dict[str, Any]:
    program_id = service.upload_program(SLEEPER, _metadata("sleeper-node-loss"))
    jobs = [service.run(program_id, {"seconds": 8}) for _ in range(2)]
    _wait(lambda: all(job.interim_results() for job in jobs), 120)
    second_raylet = cluster.raylet_pids[1]
    victim = survivor = None
    for job in jobs:
        for container in _containers(job.job_id()):
            parents = {p.pid for p in psutil.Process(_owner_pid(container)).parents()}
            if second_raylet in parents:
                victim = job
            else:
                survivor = job
    if victim is None or survivor is None:
        return {"error": "the two jobs did not run one on each node"}
    killed = time.monotonic()
    cluster.kill_node(1)
    victim.wait_for_final_state(timeout=120)
    detected = time.monotonic() - killed
    survivor.wait_for_final_state(timeout=120)
    after = service.run(program_id, {"seconds": 0})
    after.wait_for_final_state(timeout=120)
    reaped = _wait(lambda: not _containers(victim.job_id()), 60)
    return {
        "victim": _record(service, victim),
        "survivor": _record(service, survivor),
        "after": _record(service, after),
        "seconds_to_detect": detected,
        "orphan_reaped": reaped,
    }


def token_refusal(cluster: LocalCluster, root: Path) -> dict[str, Any]:
    """A fresh driver process with the cluster's token, with none, and with a wrong one."""
    home = root / "driver-home"  # no ~/.ray/auth_token for Ray to fall back on
    home.mkdir()
    wrong = root / "wrong-token"
    wrong.write_text(secrets.token_hex(32))
    tokenless = {key: value for key, value in cluster.env.items()
                 if not key.startswith("RAY_AUTH")}
    drivers = {
        "right": cluster.env,
        "none": {**tokenless, "HOME": str(home), "RAY_AUTH_MODE": "disabled"},
        "wrong": {**tokenless, "HOME": str(home), "RAY_AUTH_MODE": "token",
                  "RAY_AUTH_TOKEN_PATH": str(wrong)},
    }
    out = {}
    for name, env in drivers.items():
        run = subprocess.run([sys.executable, "-c", DRIVER, cluster.address], env=env,
                             capture_output=True, text=True, timeout=180, check=False)
        out[name] = {"stdout": run.stdout.strip()[-2000:], "stderr": run.stderr[-4000:]}
    return out


def main() -> None:
    enter_loopback_namespace()
    postgres_url, report_path = sys.argv[1], Path(sys.argv[2])
    report: dict[str, Any] = {"only_loopback": only_loopback()}
    root = Path(tempfile.mkdtemp(prefix="engine-ray-"))
    cluster = LocalCluster(root / "cluster")
    try:
        cluster.start()
        cluster.apply_env()
        report["token_mode"] = oct(cluster.token_file.stat().st_mode & 0o777)
        report["drivers"] = token_refusal(cluster, root)
        from engine import RuntimeService

        with RuntimeService(home=root / "home", database_url=postgres_url, user="alice",
                            executor="ray", ray_address=cluster.address) as service:
            import ray

            report["nodes"] = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
            report["samples"] = samples(service)
            report["many"] = many_jobs(service, 40)
            report["cancel"] = cancel(service)
            report["node_loss"] = node_loss(service, cluster)
    except BaseException:
        report["crash"] = traceback.format_exc()
    finally:
        cluster.stop()
        report["left_running"] = len(cluster._processes())
        report_path.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
