"""Load: many event-stream clients on one job, concurrent submissions, slow clients.

    .venv/bin/python bench/load.py [--streams 500] [--messages 20] [--submissions 200]
                                   [--slow 50] [--out DIR] [--quick]

Starts ``program-engine serve`` on 127.0.0.1 with a fresh home and a copy of ``policies/``
in which only what would refuse the load itself is raised: the per-user rate limit, the
open-stream caps (``max_streams_*``, with ``worker_threads`` above them, as the policy
requires) and the connections per client address. Three scenarios, one after the other:

1. ``--streams`` clients follow one job's event stream (asyncio, one connection each) while
   it publishes ``--messages`` messages, one every 0.2 s, each carrying the time it was sent.
   Every client must get every message, in order, and the final event. Meanwhile
   ``/healthz`` is asked every 50 ms on a fresh connection twice over: over a plain socket
   by a process of its own (what the daemon takes to answer), and with ``httpx.get`` by a
   thread of the clients' process (which adds building a client, about 25 ms, and waiting
   for that busy process's GIL). Reported:
   p50/p99 of ``/healthz`` (target: p99 under 100 ms) and of the delay from ``publish()`` to
   a client.
2. ``--submissions`` jobs submitted at once (``POST /v1/jobs``, one thread each, from 20
   users, started together by a barrier). None may be lost or duplicated: the store holds
   exactly one job per submission, each job's input is one submission's, and every job ends
   ``DONE`` with its own input as its result. Reported: p50/p99 of the submission latency.
3. ``--slow`` connections send request headers a byte every 0.2 s (``bench/slow_clients.py``'s
   slowloris) while others ask ``/healthz`` and a job's status on fresh connections.
   Reported: p50/p99 with and without the slow clients.

Writes ``DIR/load.png`` (the latency distributions) and prints a table with the machine's
load average.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from daemon import unthrottled_policies
from table import add_quick_flag, machine, print_table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from slow_clients import _Slowloris, _timed  # noqa: E402

from tests.server.conftest import ECHO, ECHO_METADATA, Daemon  # noqa: E402

HEALTHZ_TARGET_MS = 100.0
PUBLISH_INTERVAL = 0.2
USERS = 20
PUBLISHER = (
    "import time\n\n"
    "def main(backend, user_messenger, **kwargs):\n"
    "    time.sleep(kwargs['wait'])\n"
    "    for i in range(kwargs['count']):\n"
    "        user_messenger.publish({'tick': i, 'sent': time.time()})\n"
    "        time.sleep(kwargs['interval'])\n"
    "    return kwargs['count']\n"
)
PUBLISHER_METADATA = {"name": "publisher", "description": "Waits, then publishes.",
                      "max_execution_time": 600}


def _policies(target: Path, streams: int) -> Path:
    unthrottled_policies(target)
    path = target / "server.yaml"
    data = yaml.safe_load(path.read_text())
    data["max_streams_total"] = streams + 16
    data["max_streams_per_user"] = streams + 16
    data["worker_threads"] = max(data["worker_threads"], streams + 128)
    data["connections"]["max_per_client"] = streams + 256
    path.write_text(yaml.safe_dump(data))
    return target


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _row(name: str, values: list[float], target: float | None = None) -> tuple[str, str, str]:
    if not values:
        return (name, "no samples", "")
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    verdict = "" if target is None else ("  met" if p99 < target else "  MISSED") + \
        f" (p99 < {target:g} ms)"
    return (name, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            f"max {max(values):.1f} ms, n={len(values)}{verdict}")


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def _probe(url: str, period: float, raw: bool, stop: Any, sink: Any) -> None:
    """Ask ``/healthz`` on a fresh connection every ``period`` seconds until ``stop`` is
    set; send ``(when asked (time.time()), latency in ms)`` of each answer, and the count of
    failures, to ``sink``.
    ``raw``: over a plain socket (connect, request, answer: what the daemon takes);
    otherwise with ``httpx.get``, which also builds a client (TLS context included, about
    25 ms here) for every request."""
    port = int(url.rsplit(":", 1)[1])
    latencies: list[tuple[float, float]] = []
    failures = 0
    while not stop.wait(period):
        asked, started = time.time(), time.perf_counter()
        try:
            if raw:
                _timed(port, HEALTHZ, b"HTTP/1.1 200")
                ok = True
            else:
                ok = httpx.get(f"{url}/healthz", timeout=30).status_code == 200
        except (OSError, RuntimeError, httpx.HTTPError):
            ok = False
        if ok:
            latencies.append((asked, (time.perf_counter() - started) * 1000))
        else:
            failures += 1
    sink.send((latencies, failures))


class _Prober:
    """Runs :func:`_probe` in a process of its own (``separate``), so that what it measures
    is the daemon and not its wait for the GIL of a process full of stream clients, or on a
    thread of this process (as the clients' own requests would be)."""

    def __init__(self, url: str, *, separate: bool, raw: bool, period: float = 0.05) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._stop = context.Event() if separate else threading.Event()
        self._results, sink = context.Pipe(duplex=False)
        kind = context.Process if separate else threading.Thread
        self._runner = kind(target=_probe, args=(url, period, raw, self._stop, sink),
                            daemon=True)
        self._runner.start()

    def stop(self) -> list[tuple[float, float]]:
        """``(when asked, latency in ms)`` of every answer."""
        self._stop.set()
        latencies, _failures = self._results.recv()
        self._runner.join()
        return latencies


# --- 1. event streams ------------------------------------------------------------------------


async def _follow(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    seqs: list[int] = []
    ticks: list[int] = []
    delays: list[float] = []
    final = None
    seq = 0
    event = ""
    async with client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        if response.status_code != 200:
            return {"error": f"HTTP {response.status_code}", "seqs": [], "ticks": [],
                    "delays": [], "final": None, "joined": time.time()}
        joined = time.time()
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "interim":
                    message = json.loads(line[6:])
                    seqs.append(seq)
                    ticks.append(message["tick"])
                    delays.append((time.time() - message["sent"]) * 1000)
                elif event == "final":
                    final = json.loads(line[6:])
                    break
    return {"error": None, "seqs": seqs, "ticks": ticks, "delays": delays, "final": final,
            "joined": joined}


async def _followers(url: str, token: str, job_id: str, count: int) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=httpx.Timeout(600, connect=60),
                                 limits=limits) as client:
        return await asyncio.gather(*(_follow(client, job_id) for _ in range(count)),
                                    return_exceptions=False)


def bench_streams(daemon: Daemon, token: str, streams: int, messages: int
                  ) -> tuple[list[tuple[str, str, str]], dict[str, list[float]]]:
    from engine.client import RemoteRuntimeService

    with RemoteRuntimeService(daemon.url, token) as service:
        program_id = service.upload_program(PUBLISHER, PUBLISHER_METADATA)
        wait = max(5.0, streams / 50)  # time for every client to connect first
        job = service.run(program_id, {"wait": wait, "count": messages,
                                       "interval": PUBLISH_INTERVAL})
        apart = _Prober(daemon.url, separate=True, raw=True)
        beside = _Prober(daemon.url, separate=False, raw=False)
        started = time.monotonic()
        results = asyncio.run(_followers(daemon.url, token, job.job_id(), streams))
        took = time.monotonic() - started
        probed, probed_beside = apart.stop(), beside.stop()
        assert job.result(timeout=60) == messages
    # When the last stream was answered: before it, 500 connections were being accepted.
    all_joined = max(r["joined"] for r in results)
    healthz = [ms for _asked, ms in probed]
    healthz_beside = [ms for _asked, ms in probed_beside]
    joining = [ms for asked, ms in probed if asked <= all_joined]
    joined = [ms for asked, ms in probed if asked > all_joined]
    complete = sum(1 for r in results if r["seqs"] == list(range(1, messages + 1))
                   and r["ticks"] == list(range(messages)) and r["final"]
                   and r["final"]["status"] == "DONE")
    errors = sorted({r["error"] for r in results if r["error"]})
    delays = [d for r in results for d in r["delays"]]
    rows = [
        (f"{streams} event streams on one job, {messages} messages", f"{complete}/{streams}",
         f"clients that got every message in order and the final event; {took:.1f} s"
         + (f"; errors {errors}" if errors else "")),
        _row("  /healthz meanwhile, socket, process of its own", healthz, HEALTHZ_TARGET_MS),
        _row("    of which while the streams were joining", joining, HEALTHZ_TARGET_MS),
        _row("    of which once every stream had joined", joined, HEALTHZ_TARGET_MS),
        _row("  /healthz meanwhile, httpx.get, clients' process", healthz_beside,
             HEALTHZ_TARGET_MS),
        _row("  publish() to client, per message", delays),
    ]
    return rows, {"/healthz during streams": healthz,
                  "/healthz during streams, httpx.get in the clients' process": healthz_beside,
                  "publish to stream client": delays}


# --- 2. concurrent submissions -------------------------------------------------------------


def bench_submissions(daemon: Daemon, tokens: list[str], admin: str, program_id: str,
                      count: int) -> tuple[list[tuple[str, str, str]], dict[str, list[float]]]:
    barrier = threading.Barrier(count)
    latencies: list[float] = [0.0] * count
    answers: list[Any] = [None] * count

    def submit(index: int) -> None:
        token = tokens[index % len(tokens)]
        with httpx.Client(base_url=daemon.url, timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            barrier.wait()
            started = time.perf_counter()
            response = client.post("/v1/jobs", json={"program_id": program_id,
                                                     "inputs": {"n": index}})
            latencies[index] = (time.perf_counter() - started) * 1000
            answers[index] = (response.status_code, response.json().get("id"))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [answer for answer in answers if answer and answer[0] == 201]
    ids = {answer[1] for answer in accepted}
    started = time.monotonic()
    with httpx.Client(base_url=daemon.url, timeout=120,
                      headers={"Authorization": f"Bearer {admin}"}) as client:
        while True:
            listing = client.get("/v1/jobs", params={"program_id": program_id,
                                                      "limit": 1000}).json()["jobs"]
            if all(job["status"] in ("DONE", "ERROR", "CANCELLED") for job in listing):
                break
            time.sleep(1)
        ran = time.monotonic() - started
        stored = {job["id"]: job for job in listing}
        inputs = sorted(job["inputs"]["n"] for job in listing)
        results_ok = sum(
            1 for job_id, job in stored.items()
            if job["status"] == "DONE"
            and client.get(f"/v1/jobs/{job_id}/result").json() == job["inputs"]["n"])
    rows = [
        (f"{count} submissions at once ({len(tokens)} users)",
         f"{len(accepted)} accepted, {len(stored)} stored",
         f"distinct ids {len(ids)}; inputs exactly 0..{count - 1}: "
         f"{inputs == list(range(count))}; ids stored = ids answered: {set(stored) == ids}"),
        ("  every job DONE with its own input", f"{results_ok}/{count}",
         f"all ran in {ran:.0f} s after the last submission"),
        _row("  submission latency (POST /v1/jobs)", latencies),
    ]
    return rows, {"POST /v1/jobs, 200 at once": latencies}


# --- 3. slow clients ---------------------------------------------------------------------------


def bench_slow(daemon: Daemon, token: str, job_id: str, slow: int, requests: int
               ) -> tuple[list[tuple[str, str, str]], dict[str, list[float]]]:
    healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status = (f"GET /v1/jobs/{job_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
              f"Authorization: Bearer {token}\r\n\r\n").encode()
    quiet = [_timed(daemon.port, healthz, b"HTTP/1.1 200") for _ in range(requests)]
    loris = _Slowloris(daemon.port, slow)
    try:
        time.sleep(1)  # every slow client has sent a few bytes
        loaded = [_timed(daemon.port, healthz, b"HTTP/1.1 200") for _ in range(requests)]
        statuses = [_timed(daemon.port, status, b"HTTP/1.1 200") for _ in range(requests)]
    finally:
        loris.close()
    rows = [
        _row("/healthz, no slow client", quiet),
        _row(f"/healthz, {slow} slow-header clients", loaded, HEALTHZ_TARGET_MS),
        _row(f"GET /v1/jobs/{{id}}, {slow} slow-header clients", statuses),
    ]
    return rows, {f"/healthz, {slow} slow clients": loaded,
                  f"job status, {slow} slow clients": statuses}


def plot(series: dict[str, list[float]], path: Path) -> None:
    """The latency distributions (CDF, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for name, values in series.items():
        ordered = sorted(values)
        axis.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=name)
    axis.set_xscale("log")
    axis.set_xlabel("milliseconds")
    axis.set_ylabel("fraction at or below")
    axis.axvline(HEALTHZ_TARGET_MS, color="0.5", linestyle="--", linewidth=0.8)
    axis.grid(True, linewidth=0.3)
    axis.legend(fontsize=8)
    axis.set_title("program-engine serve under load (bench/load.py)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main() -> None:
    parser = argparse_parser()
    args = parser.parse_args()
    if args.quick:
        args.streams, args.messages, args.submissions, args.slow = 50, 5, 20, 10
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the daemon
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"bench/load.py; machine: {machine()}")
    rows: list[tuple[str, str, str]] = []
    series: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        daemon = Daemon(root / "home", _policies(root / "policies", args.streams)).start()
        try:
            admin = daemon.user("admin", admin=True)
            tokens = [daemon.user(f"user{i}") for i in range(USERS)]
            with _service(daemon, admin) as service:
                echo = service.upload_program(ECHO, ECHO_METADATA)
                service.set_program_visibility(echo, True)
                probe = service.run(echo, {"n": 0})
                probe.result(timeout=300)  # the image is built, Qiskit imported
                submitted = service.upload_program(ECHO, {**ECHO_METADATA,
                                                          "name": "echo-submitted"})
                service.set_program_visibility(submitted, True)
            for found, measured in (
                bench_streams(daemon, tokens[0], args.streams, args.messages),
                bench_submissions(daemon, tokens, admin, submitted, args.submissions),
                bench_slow(daemon, admin, probe.job_id(), args.slow, args.requests),
            ):
                rows += found
                series.update(measured)
        finally:
            daemon.stop()
    print_table(rows)
    plot(series, args.out / "load.png")
    print(f"wrote {args.out / 'load.png'}; machine now: {machine()}")


def _service(daemon: Daemon, token: str) -> Any:
    from engine.client import RemoteRuntimeService

    return RemoteRuntimeService(daemon.url, token)


def argparse_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100, help="requests per slow case")
    parser.add_argument("--out", type=Path, default=Path("load-out"))
    add_quick_flag(parser)
    return parser


if __name__ == "__main__":
    main()
