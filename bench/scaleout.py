"""Scale-out figures: the Ray executor against the local one, on this machine.

    .venv/bin/python bench/scaleout.py [--jobs 20] [--messages 200]

Reports:

* dispatch overhead per job: submit-to-final time of a trivial program, one job at a time,
  with the Ray executor against the local executor (and a bare Ray task for orientation);
* interim-message latency: from ``publish()`` in the sandbox to the message stored by the
  dispatcher, through Ray and locally;
* throughput of short jobs with one Ray node and with two (each node one ``sandbox_host``
  slot), and with the local executor running two at once.

Ray only ever runs inside a loopback-only network namespace (the script re-executes itself
under ``unshare --net``; it needs root), with the test cluster of ``tests/executors``. Every
node is on this one machine: with 2 cores, a second node adds sandbox slots, not cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "executors"))

from ray_cluster import LocalCluster, enter_loopback_namespace

TRIVIAL = "def main(backend, user_messenger, i=0):\n    return i\n"
TICKS = (
    "import time\n"
    "def main(backend, user_messenger, count=100):\n"
    "    for i in range(count):\n"
    "        user_messenger.publish({'i': i, 't': time.time()})\n"
    "        time.sleep(0.005)\n"
    "    return count\n"
)


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"{name}.", "max_execution_time": 300}


def _service(root: Path, executor: str, address: str | None, concurrent: int) -> Any:
    from engine import RuntimeService

    return RuntimeService(home=root / f"home-{executor}-{time.monotonic_ns()}", user="bench",
                          executor=executor, ray_address=address,
                          max_concurrent_jobs=concurrent)


def sequential_latency(service: Any, count: int) -> list[float]:
    program_id = service.upload_program(TRIVIAL, _metadata("trivial"))
    service.run(program_id, {"i": -1}).wait_for_final_state(timeout=120)  # warm
    times = []
    for i in range(count):
        started = time.perf_counter()
        job = service.run(program_id, {"i": i})
        job.wait_for_final_state(timeout=120)
        times.append(time.perf_counter() - started)
    return times


def interim_latency(service: Any, count: int) -> list[float]:
    from sqlalchemy import select

    from engine.store.models import JobMessage

    program_id = service.upload_program(TICKS, _metadata("ticks"))
    job = service.run(program_id, {"count": count})
    job.wait_for_final_state(timeout=300)
    with service._db.read() as tx:
        rows = tx.session.execute(
            select(JobMessage.data, JobMessage.created_at)
            .where(JobMessage.job_id == job.job_id())
            .order_by(JobMessage.seq)
        ).all()
    delays = []
    for data, stored in rows:
        sent = json.loads(data)["t"]
        if stored.tzinfo is None:  # SQLite keeps UTC without the zone
            stored = stored.replace(tzinfo=UTC)
        delays.append(stored.timestamp() - sent)
    return delays


def throughput(service: Any, count: int) -> float:
    program_id = service.upload_program(TRIVIAL, _metadata("trivial"))
    service.run(program_id, {"i": -1}).wait_for_final_state(timeout=120)  # warm
    started = time.perf_counter()
    jobs = [service.run(program_id, {"i": i}) for i in range(count)]
    for job in jobs:
        job.wait_for_final_state(timeout=600)
    return count / (time.perf_counter() - started)


def bare_ray_task_ms(count: int) -> float:
    import ray

    from engine.executors.ray_task import TASK_OPTIONS

    @ray.remote(**TASK_OPTIONS)
    def noop() -> Any:
        yield ("final", None)

    list(noop.remote())
    started = time.perf_counter()
    for _ in range(count):
        for ref in noop.remote():
            ray.get(ref)
    return (time.perf_counter() - started) / count * 1000


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p90 " \
           f"{sorted(values)[int(len(values) * 0.9) - 1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    enter_loopback_namespace()
    root = Path(tempfile.mkdtemp(prefix="engine-scaleout-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; every Ray node on this machine")

    with _service(root, "local", None, 2) as local:
        local_seq = sequential_latency(local, args.jobs)
        local_interim = interim_latency(local, args.messages)
        local_rate = throughput(local, args.jobs)

    figures: dict[str, Any] = {}
    for nodes in (1, 2):
        cluster = LocalCluster(root / f"cluster{nodes}", workers=nodes - 1,
                               token_file=root / "ray-token")
        try:
            cluster.start()
            cluster.apply_env()
            with _service(root, "ray", cluster.address, 2) as service:
                if nodes == 2:
                    figures["seq"] = sequential_latency(service, args.jobs)
                    figures["interim"] = interim_latency(service, args.messages)
                    figures["bare"] = bare_ray_task_ms(200)
                figures[f"rate{nodes}"] = throughput(service, args.jobs)
        finally:
            cluster.stop()

    overhead = statistics.median(figures["seq"]) - statistics.median(local_seq)
    print(f"submit to final, trivial program, one at a time ({args.jobs} jobs):")
    print(f"  local executor: {_ms(local_seq)}")
    print(f"  Ray executor:   {_ms(figures['seq'])}")
    print(f"  dispatch overhead of Ray per job: {overhead * 1000:+.1f} ms "
          f"(a bare streaming task round trip: {figures['bare']:.2f} ms)")
    print(f"interim message, publish() to stored ({args.messages} messages):")
    print(f"  local executor: {_ms(local_interim)}")
    print(f"  Ray executor:   {_ms(figures['interim'])}")
    print(f"throughput, {args.jobs} trivial jobs:")
    print(f"  local executor, 2 at once: {local_rate:.2f} jobs/s")
    print(f"  Ray, 1 node (1 slot):      {figures['rate1']:.2f} jobs/s")
    print(f"  Ray, 2 nodes (2 slots):    {figures['rate2']:.2f} jobs/s")


if __name__ == "__main__":
    main()
