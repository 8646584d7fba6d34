"""Scale-out figures: the Ray executor against the local one, on this machine.

    .venv/bin/python bench/scaleout.py [--jobs 20] [--messages 200] [--rounds 3] [--quick]

Reports each figure as the median, min and max of its samples (one per job, per message,
per task or per throughput round):

* dispatch overhead per job: submit-to-final time of a trivial program, one job at a time,
  with the Ray executor against the local executor, median against median (and a bare Ray
  task for orientation);
* interim-message latency: from ``publish()`` in the sandbox to the message stored by the
  dispatcher, through Ray and locally;
* throughput of short jobs with one Ray node and with two (each node one ``sandbox_host``
  slot), and with the local executor running two at once, over ``--rounds`` rounds.

Ray only ever runs inside a loopback-only network namespace (the script re-executes itself
under ``unshare --net``; it needs root), with the test cluster of ``tests/executors``. Every
node is on this one machine: with 2 cores, a second node adds sandbox slots, not cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "executors"))

from ray_cluster import LocalCluster, enter_loopback_namespace
from table import Figure, add_quick_flag, print_figures

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
        times.append((time.perf_counter() - started) * 1000)
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
        delays.append((stored.timestamp() - sent) * 1000)
    return delays


def throughput(service: Any, count: int, rounds: int) -> list[float]:
    """Jobs per second of ``count`` trivial jobs queued at once, once per round."""
    program_id = service.upload_program(TRIVIAL, _metadata("trivial"))
    service.run(program_id, {"i": -1}).wait_for_final_state(timeout=120)  # warm
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        jobs = [service.run(program_id, {"i": i}) for i in range(count)]
        for job in jobs:
            job.wait_for_final_state(timeout=600)
        rates.append(count / (time.perf_counter() - started))
    return rates


def bare_ray_task_ms(count: int) -> list[float]:
    import ray

    from engine.executors.ray_task import TASK_OPTIONS

    @ray.remote(**TASK_OPTIONS)
    def noop() -> Any:
        yield ("final", None)

    list(noop.remote())
    times = []
    for _ in range(count):
        started = time.perf_counter()
        for ref in noop.remote():
            ray.get(ref)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per case")
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.messages, args.rounds = 3, 20, 1
    enter_loopback_namespace()
    root = Path(tempfile.mkdtemp(prefix="engine-scaleout-"))

    with _service(root, "local", None, 2) as local:
        local_seq = sequential_latency(local, args.jobs)
        local_interim = interim_latency(local, args.messages)
        local_rate = throughput(local, args.jobs, args.rounds)

    found: dict[str, Any] = {}
    for nodes in (1, 2):
        cluster = LocalCluster(root / f"cluster{nodes}", workers=nodes - 1,
                               token_file=root / "ray-token")
        try:
            cluster.start()
            cluster.apply_env()
            with _service(root, "ray", cluster.address, 2) as service:
                if nodes == 2:
                    found["seq"] = sequential_latency(service, args.jobs)
                    found["interim"] = interim_latency(service, args.messages)
                    found["bare"] = bare_ray_task_ms(20 if args.quick else 200)
                found[f"rate{nodes}"] = throughput(service, args.jobs, args.rounds)
        finally:
            cluster.stop()

    overhead = statistics.median(found["seq"]) - statistics.median(local_seq)
    print_figures([
        Figure("submit to final, trivial program, one at a time: local executor", local_seq,
               "ms"),
        Figure("submit to final, trivial program, one at a time: Ray executor", found["seq"],
               "ms"),
        Figure("dispatch overhead of Ray per job (median Ray - median local)", [overhead],
               "ms", note="one difference of two medians"),
        Figure("a bare streaming Ray task round trip (orientation)", found["bare"], "ms"),
        Figure("interim message, publish() to stored: local executor", local_interim, "ms"),
        Figure("interim message, publish() to stored: Ray executor", found["interim"], "ms"),
        Figure(f"throughput, {args.jobs} trivial jobs: local executor, 2 at once", local_rate,
               "jobs/s", decimals=2),
        Figure(f"throughput, {args.jobs} trivial jobs: Ray, 1 node (1 slot)", found["rate1"],
               "jobs/s", decimals=2),
        Figure(f"throughput, {args.jobs} trivial jobs: Ray, 2 nodes (2 slots)", found["rate2"],
               "jobs/s", decimals=2),
    ], title="bench/scaleout.py: every Ray node on this machine, loopback-only namespace")

if __name__ == "__main__":
    main()
