"""Daemon benchmark: status reads per second, HTTP overhead on a job, event delay.

    .venv/bin/python bench/server.py [--jobs 15] [--seconds 2] [--read-runs 7] [--messages 30]
                                     [--quick]

Starts ``program-engine serve`` on 127.0.0.1 with a fresh home and a copy of ``policies/``
whose per-user rate limit is lifted (the figures measure the daemon, not the limiter), and
an embedded ``RuntimeService`` on another fresh home for comparison. Prints each figure as
the median, min and max of repeated runs:

- job-status reads (``GET /v1/jobs/{id}``) per second, on one keep-alive connection and
  on eight at once, over ``--read-runs`` windows of ``--seconds`` each;
- submit-to-result latency of hello_world (``iterations=1``) over HTTP and embedded, runs
  alternating. The sandbox's own time varies by more than the difference sought, so each
  run's *overhead* is its latency minus the job's time in the store (``created_at`` to
  ``ended_at``): what the caller waits outside the job. Target: HTTP adds under 30 ms
  (the median HTTP overhead minus the median embedded overhead);
- the delay from ``publish()`` in the program to the callback in the client, over the event
  stream and embedded (container and host share the clock), one sample per message.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from daemon import Daemon, unthrottled_policies
from table import Figure, Target, add_quick_flag, print_figures

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "program_source" / "hello_world"
TICKER = (
    "import time\n\n"
    "def main(backend, user_messenger, **kwargs):\n"
    "    for i in range(kwargs['count']):\n"
    "        user_messenger.publish({'tick': i, 'sent': time.time()})\n"
    "        time.sleep(kwargs['interval'])\n"
    "    return kwargs['count']\n"
)
TICKER_METADATA = {"name": "ticker", "description": "Publishes.", "max_execution_time": 300}


def _token(home: Path, name: str) -> str:
    from engine.accounts import new_token, token_hash
    from engine.store import open_database

    token = new_token()
    with open_database(home=home) as database, database.write() as tx:
        tx.users.create(name)
        tx.users.add_token(name, token_hash(token))
    return token


# --- status reads ------------------------------------------------------------------------------


def bench_status_reads(url: str, token: str, job_id: str, seconds: float, runs: int
                       ) -> list[Figure]:
    def reader(stop: float, counts: list[int]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            n = 0
            while time.monotonic() < stop:
                response = client.get(f"/v1/jobs/{job_id}")
                assert response.status_code == 200, response.text
                n += 1
            counts.append(n)

    rates: dict[int, list[float]] = {1: [], 8: []}
    for _ in range(runs):  # the two cases take turns
        for connections, found in rates.items():
            counts: list[int] = []
            stop = time.monotonic() + seconds
            threads = [threading.Thread(target=reader, args=(stop, counts))
                       for _ in range(connections)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            found.append(sum(counts) / seconds)
    return [Figure(f"job-status GETs, {connections} keep-alive connection(s)", found, "/s",
                   decimals=0, note=f"{seconds:g} s windows")
            for connections, found in rates.items()]


# --- submit to result --------------------------------------------------------------------------


def _run_and_time(service: Any, program_id: str) -> tuple[float, float]:
    """Latency of run() to result() in ms, and that minus the job's time in the store."""
    started = time.perf_counter()
    job = service.run(program_id, {"iterations": 1})
    job.result(timeout=300)
    latency = (time.perf_counter() - started) * 1000
    record = service.job_record(job.job_id())
    in_store = (record.ended_at - record.created_at).total_seconds() * 1000
    return latency, latency - in_store


def bench_latency(remote: Any, embedded: Any, runs: int) -> list[Figure]:
    remote_id = remote.upload_program(str(HELLO), new=True)
    embedded_id = embedded.upload_program(str(HELLO))
    _run_and_time(remote, remote_id)  # warm both paths up
    _run_and_time(embedded, embedded_id)
    samples: dict[str, list[tuple[float, float]]] = {"HTTP": [], "embedded": []}
    for _ in range(runs):
        samples["HTTP"].append(_run_and_time(remote, remote_id))
        samples["embedded"].append(_run_and_time(embedded, embedded_id))
    figures = []
    for name, values in samples.items():
        figures.append(Figure(f"hello_world (iterations=1) submit to result, {name}",
                              [v[0] for v in values], "ms"))
    for name, values in samples.items():
        figures.append(Figure(f"time outside the job (latency - created_at..ended_at), {name}",
                              [v[1] for v in values], "ms"))
    added = (statistics.median(v[1] for v in samples["HTTP"])
             - statistics.median(v[1] for v in samples["embedded"]))
    figures.append(Figure("HTTP adds (median outside time HTTP - median embedded)", [added],
                          "ms", Target.below(30), note="one difference of two medians"))
    return figures


# --- publish to callback -------------------------------------------------------------------------


def _delays(service: Any, program_id: str, count: int) -> list[float]:
    delays: list[float] = []
    done = threading.Event()

    def on_message(_job_id: str, message: dict[str, Any]) -> None:
        delays.append((time.time() - message["sent"]) * 1000)
        if len(delays) == count:
            done.set()

    job = service.run(program_id, {"count": count, "interval": 0.1}, callback=on_message)
    job.result(timeout=300)
    done.wait(timeout=30)
    return delays


def bench_events(remote: Any, embedded: Any, count: int) -> list[Figure]:
    figures = []
    for name, service in (("event stream (HTTP)", remote), ("embedded callback", embedded)):
        program_id = service.upload_program(TICKER, TICKER_METADATA)
        delays = sorted(_delays(service, program_id, count))
        p95 = delays[max(0, int(len(delays) * 0.95) - 1)]
        figures.append(Figure(f"publish() to callback, {name}", delays, "ms",
                              note=f"one sample per message; p95 {p95:.1f} ms"))
    return figures


def _docker_version() -> str:
    import docker

    return docker.from_env().version().get("Version", "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=15, help="latency runs per path")
    parser.add_argument("--seconds", type=float, default=2, help="length of each read window")
    parser.add_argument("--read-runs", type=int, default=7, help="read windows per case")
    parser.add_argument("--messages", type=int, default=30, help="interim messages per run")
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.seconds, args.read_runs, args.messages = 2, 0.5, 2, 5

    from engine.client import RemoteRuntimeService
    from engine.service import RuntimeService

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        daemon = Daemon(root / "daemon", unthrottled_policies(root / "policies"))
        figures: list[Figure] = []
        try:
            token = _token(root / "daemon", "bench")
            with RemoteRuntimeService(daemon.url, token) as remote, \
                    RuntimeService(home=root / "embedded", user="bench") as embedded:
                program_id = remote.upload_program(str(HELLO))
                job = remote.run(program_id, {"iterations": 1})
                job.result(timeout=300)
                steps: list[Callable[[], list[Figure]]] = [
                    lambda: bench_status_reads(daemon.url, token, job.job_id(), args.seconds,
                                               args.read_runs),
                    lambda: bench_latency(remote, embedded, args.jobs),
                    lambda: bench_events(remote, embedded, args.messages),
                ]
                for step in steps:
                    figures += step()
        finally:
            daemon.stop()
    print_figures(figures, title=f"bench/server.py: daemon on 127.0.0.1, Docker "
                                 f"{_docker_version()}")

if __name__ == "__main__":
    main()
