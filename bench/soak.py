"""Soak: N hello_world jobs through a real daemon from 10 clients, sampled every second.

    .venv/bin/python bench/soak.py [--jobs 1000] [--clients 10] [--out DIR]

Starts ``program-engine serve`` on 127.0.0.1 with a fresh home (SQLite store) and the
shipped policies (two sandboxes at once), adds one user per client and uploads
``program_source/hello_world``. Each client first runs one job (the warm-up); once the idle
daemon's descriptors and threads have not changed for ``--quiet`` seconds, that reading is
the baseline (anyio ends a worker thread idle for 10 s only when it is next given work, so
while it waits the bench asks ``/readyz``, which runs in a worker thread, every second).
Then the clients submit ``iterations=1`` jobs and wait for each result until N jobs have
ended; after the last one the daemon is read until its descriptors, threads and containers
are back at the baseline (at most ``--settle`` seconds; how long it took is printed).

All along, every ``--interval`` seconds, a sampler reads the daemon's RSS, open file
descriptors and threads (psutil), the containers it created (Docker, by the owner label) and
the store's size (``engine.db`` with its ``-wal`` and ``-shm``). It writes
``DIR/soak.csv`` (``time,rss_bytes,fds,threads,containers,db_bytes``) and ``DIR/soak.png``,
and prints each series' least-squares slope over the run, per minute and per 1,000 jobs.

Targets: no upward trend once warm. RSS grows less than 5 % from the second tenth of the run
to the last (mean of each tenth's samples); descriptors, threads and containers are back at
their baseline or below once the daemon idles after the run. Descriptors are judged twice:
besides the store's pooled connections (three files each: ``engine.db`` and its ``-wal`` and
``-shm``; the pool keeps up to ``database_pool_size`` open once a burst of requests needed
them), and besides those and the connections to Docker as well (one per container attached,
idle ones waiting for reuse included, and the client's pool, which keeps up to
``DEFAULT_MAX_POOL_SIZE``, 10, so Docker's may end up to that many above the baseline): each
pool is a bound, not a trend, and both are counted and printed. The return to the baseline
is awaited on the second; the descriptors that differ from the baseline at the end are named
(``descriptor_kinds``). The database grows with the jobs it keeps: its slope is reported,
not judged.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import astuple, dataclass, field
from pathlib import Path

from docker.constants import DEFAULT_MAX_POOL_SIZE

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "program_source" / "hello_world"
RSS_GROWTH_TARGET = 0.05
COLUMNS = ("time", "rss_bytes", "fds", "threads", "containers", "db_bytes")


@dataclass(frozen=True)
class Sample:
    """One reading of the daemon; ``time`` in seconds from the start of sampling."""

    time: float
    rss_bytes: int
    fds: int
    threads: int
    containers: int
    db_bytes: int
    store_fds: int = 0  # of ``fds``, those open on the store's files (not in the CSV)
    docker_fds: int = 0  # of ``fds``, the Docker client's connections (not in the CSV)

    @property
    def other_fds(self) -> int:
        return self.fds - self.store_fds

    @property
    def unpooled_fds(self) -> int:
        """Descriptors besides the two bounded pools: the store's and Docker's."""
        return self.other_fds - self.docker_fds


@dataclass
class SoakResult:
    """What a soak measured, and whether it met its targets."""

    jobs: int
    clients: int
    samples: list[Sample]
    baseline: Sample
    final: Sample
    run_start: float  # sampling times bounding the run
    run_end: float
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, submit to result
    back_after: float = 0.0  # seconds from the run's end to the final reading
    # What the daemon's descriptors were at the baseline and at the final reading.
    baseline_kinds: Counter[str] = field(default_factory=Counter)
    final_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def run(self) -> list[Sample]:
        return [s for s in self.samples if self.run_start <= s.time <= self.run_end]

    def tenth(self, index: int) -> list[Sample]:
        """Samples of the ``index``-th tenth of the run (0-based)."""
        span = (self.run_end - self.run_start) / 10
        low, high = self.run_start + index * span, self.run_start + (index + 1) * span
        return [s for s in self.run if low <= s.time <= high]

    @property
    def rss_growth(self) -> float:
        """Mean RSS of the last tenth over that of the second, less one."""
        second = statistics.mean(s.rss_bytes for s in self.tenth(1))
        last = statistics.mean(s.rss_bytes for s in self.tenth(9))
        return last / second - 1

    def slope(self, column: str) -> float:
        """Least-squares slope of ``column`` over the run, per second."""
        run = self.run
        xs = [s.time for s in run]
        ys = [float(getattr(s, column)) for s in run]
        if len(run) < 2:
            return 0.0
        mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread \
            if spread else 0.0

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / max(self.run_end - self.run_start, 1e-9)

    def checks(self) -> dict[str, tuple[bool, str]]:
        """Each target: whether it is met, and the figures."""
        base, final = self.baseline, self.final
        after = f" ({self.back_after:.0f} s after the run)"
        return {
            "rss": (self.rss_growth < RSS_GROWTH_TARGET,
                    f"RSS {self.rss_growth:+.1%} from the second tenth to the last "
                    f"(target < {RSS_GROWTH_TARGET:.0%})"),
            "fds": (final.other_fds <= base.other_fds,
                    f"descriptors besides the store's {base.other_fds} before, "
                    f"{final.other_fds} after{after}; the store's {base.store_fds} before, "
                    f"{final.store_fds} after"),
            "fds_unpooled": (final.unpooled_fds <= base.unpooled_fds
                             and final.docker_fds <= base.docker_fds + DEFAULT_MAX_POOL_SIZE,
                             f"descriptors besides the store's and Docker's "
                             f"{base.unpooled_fds} before, {final.unpooled_fds} after{after}; "
                             f"Docker's {base.docker_fds} before, {final.docker_fds} after "
                             f"(target: at most its client's pool, {DEFAULT_MAX_POOL_SIZE}, "
                             f"more)"),
            "threads": (final.threads <= base.threads,
                        f"threads {base.threads} before, {final.threads} after{after}"),
            "containers": (final.containers <= base.containers,
                           f"containers {base.containers} before, {final.containers} "
                           f"after{after}"),
            "jobs": (not self.failures,
                     f"{self.jobs - len(self.failures)}/{self.jobs} jobs returned their result"),
        }

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for sample in self.samples:
                writer.writerow([f"{sample.time:.3f}",
                                 *astuple(sample)[1:len(COLUMNS)]])

    def plot(self, path: Path) -> None:
        """One panel per series against time; the run's span shaded."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        series = [("rss_bytes", "RSS (MiB)", 1 / 2**20), ("fds", "open descriptors", 1),
                  ("threads", "threads", 1), ("containers", "containers", 1),
                  ("db_bytes", "database (MiB)", 1 / 2**20)]
        figure, axes = plt.subplots(len(series), 1, sharex=True, figsize=(8, 10))
        times = [s.time for s in self.samples]
        for axis, (column, label, scale) in zip(axes, series, strict=True):
            axis.plot(times, [getattr(s, column) * scale for s in self.samples], linewidth=1)
            axis.axvspan(self.run_start, self.run_end, color="0.9", zorder=0)
            axis.set_ylabel(label)
            axis.grid(True, linewidth=0.3)
        axes[-1].set_xlabel("seconds")
        axes[0].set_title(f"program-engine serve: {self.jobs} hello_world jobs from "
                          f"{self.clients} clients (run shaded)")
        figure.tight_layout()
        figure.savefig(path, dpi=90)
        plt.close(figure)


class _Sampler:
    """Reads the daemon every ``interval`` seconds on a thread of its own."""

    def __init__(self, pid: int, home: Path, interval: float, url: str) -> None:
        import psutil

        from engine.sandbox.docker_client import connect

        self.process = psutil.Process(pid)
        self.owner = f"{socket.gethostname()}:{pid}:"
        self.home = home
        self.interval = interval
        self.url = url
        self.docker = connect()
        self.samples: list[Sample] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic() - self.started

    def read(self) -> Sample:
        from engine.sandbox.container import LABEL_ENGINE, LABEL_OWNER

        with self.process.oneshot():
            rss = self.process.memory_info().rss
            fds = self.process.num_fds()
            store = str(self.home / "engine.db")
            store_fds = sum(1 for opened in self.process.open_files()
                            if opened.path.startswith(store))
            threads = self.process.num_threads()
        docker_fds = sum(count for kind, count in descriptor_kinds(self.process.pid).items()
                         if kind.startswith("unix socket to ") and kind.endswith("docker.sock"))
        listed = self.docker.api.containers(all=True, filters={"label": LABEL_ENGINE})
        containers = sum(1 for info in listed
                         if (info.get("Labels") or {}).get(LABEL_OWNER, "").startswith(self.owner))
        size = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                size += (self.home / f"engine.db{suffix}").stat().st_size
        return Sample(round(self.now(), 3), rss, fds, threads, containers, size, store_fds,
                      docker_fds)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.samples.append(self.read())
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def poke(self) -> None:
        """Give the daemon's worker threads something to do, so idle ones are ended."""
        import httpx

        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{self.url}/readyz", timeout=30)


def descriptor_kinds(pid: int) -> Counter[str]:
    """What a process's open descriptors are: files by path (the store's, the log), pipes,
    event fds, TCP sockets by state and local port, and Unix sockets by the path they or
    their peers are bound to (``ss`` knows the peer: a client's end has no path of its own)."""
    proc = Path(f"/proc/{pid}")
    sockets: dict[str, str] = {}
    for family in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / family).read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                sockets[fields[9]] = f"{family} socket, local port {port}, state {fields[3]}"
    sockets.update(_unix_sockets())
    kinds: Counter[str] = Counter()
    for fd in (proc / "fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                target = sockets.get(target[8:-1], "socket (other)")
            elif target.startswith("pipe:["):
                target = "pipe"
            kinds[target] += 1
    return kinds


def _unix_sockets() -> dict[str, str]:
    """Unix sockets by inode, each named by its path or its peer's (``ss -xan``)."""
    import subprocess

    try:
        listing = subprocess.run(["ss", "-xan"], capture_output=True, text=True, timeout=10,
                                 check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    ends: dict[str, tuple[str, str]] = {}  # inode: (path or "*", peer inode)
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8:
            ends[fields[5]] = (fields[4], fields[7])
    named = {}
    for inode, (path, peer) in ends.items():
        if path == "*":
            path = ends.get(peer, ("*", ""))[0]
            named[inode] = "unix socket" + ("" if path == "*" else f" to {path}")
        else:
            named[inode] = f"unix socket at {path}"
    return named


def _quiet(sampler: _Sampler, quiet: float, limit: float) -> Sample:
    """The first reading after which descriptors and threads stayed the same for ``quiet``
    seconds (or the last one after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    reading = sampler.read()
    since = time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(sampler.interval)
        sampler.poke()
        now = sampler.read()
        if (now.unpooled_fds, now.threads) != (reading.unpooled_fds, reading.threads):
            reading, since = now, time.monotonic()
    return reading


def _back(sampler: _Sampler, baseline: Sample, limit: float) -> Sample:
    """The first reading with descriptors, threads and containers at the baseline or below
    (or the last one after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while True:
        reading = sampler.read()
        if (reading.unpooled_fds <= baseline.unpooled_fds
                and reading.threads <= baseline.threads
                and reading.containers <= baseline.containers) or time.monotonic() > deadline:
            return reading
        time.sleep(sampler.interval)
        sampler.poke()


def soak(jobs: int, clients: int, out: Path, *, interval: float = 1.0, quiet: float = 11.0,
         settle: float = 60.0) -> SoakResult:
    """Run the soak described in the module docstring; write ``out/soak.csv`` and
    ``out/soak.png``."""
    sys.path.insert(0, str(REPO))
    from engine.client import RemoteRuntimeService
    from tests.server.conftest import Daemon

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        daemon = Daemon(home).start()
        try:
            assert daemon.process is not None
            tokens = [daemon.user(f"client{i}") for i in range(clients)]
            with RemoteRuntimeService(daemon.url, tokens[0]) as service:
                program_id = service.upload_program(str(HELLO))
                service.set_program_visibility(program_id, True)
            sampler = _Sampler(daemon.process.pid, home, interval, daemon.url)
            failures: list[str] = []
            latencies: list[float] = []
            _clients(daemon.url, tokens, program_id, len(tokens), failures, latencies)  # warm-up
            baseline = _quiet(sampler, quiet, settle)
            baseline_kinds = descriptor_kinds(daemon.process.pid)
            failures.clear()
            latencies.clear()
            run_start = sampler.now()
            _clients(daemon.url, tokens, program_id, jobs, failures, latencies)
            run_end = sampler.now()
            final = _back(sampler, baseline, settle)
            final_kinds = descriptor_kinds(daemon.process.pid)
            sampler.stop()
        finally:
            daemon.stop()
    result = SoakResult(jobs, clients, sampler.samples, baseline, final, run_start, run_end,
                        failures, latencies, final.time - run_end, baseline_kinds,
                        final_kinds)
    result.write_csv(out / "soak.csv")
    result.plot(out / "soak.png")
    return result


def _clients(url: str, tokens: list[str], program_id: str, jobs: int, failures: list[str],
             latencies: list[float]) -> None:
    """One thread per token, each submitting a job and waiting for its result, until
    ``jobs`` jobs have ended in all."""
    from engine.client import RemoteRuntimeService

    counter = iter(range(jobs))
    lock = threading.Lock()

    def client(token: str) -> None:
        with RemoteRuntimeService(url, token) as service:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                started = time.monotonic()
                try:
                    result = service.run(program_id, {"iterations": 1}).result(timeout=600)
                    if result != "Hello, World!":
                        failures.append(f"unexpected result {result!r}")
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def report(result: SoakResult) -> list[str]:
    """The lines the bench prints: rate, latency, slopes and targets."""
    lines = [f"{result.jobs} jobs from {result.clients} clients in "
             f"{result.run_end - result.run_start:.0f} s ({result.jobs_per_second:.2f} jobs/s); "
             f"submit to result: median {statistics.median(result.latencies):.2f} s, "
             f"max {max(result.latencies):.2f} s"]
    per_job = (result.run_end - result.run_start) / result.jobs * 1000
    for column in COLUMNS[1:]:
        slope = result.slope(column)
        lines.append(f"slope {column:<11} {slope * 60:+12.1f} per minute, "
                     f"{slope * per_job:+12.1f} per 1,000 jobs")
    for name, (met, text) in result.checks().items():
        lines.append(f"{'met   ' if met else 'MISSED'} {name:<10} {text}")
    for sign, kinds in (("+", result.final_kinds - result.baseline_kinds),
                        ("-", result.baseline_kinds - result.final_kinds)):
        lines += [f"descriptors after vs baseline: {sign}{count} {kind}"
                  for kind, count in sorted(kinds.items())]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("soak-out"))
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--quiet", type=float, default=11.0,
                        help="seconds without change that make the baseline")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="longest wait for the baseline, and for the return to it")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from table import machine

    print(f"bench/soak.py; machine: {machine()}")
    result = soak(args.jobs, args.clients, args.out, interval=args.interval, quiet=args.quiet,
                  settle=args.settle)
    print("\n".join(report(result)))
    print(f"wrote {args.out / 'soak.csv'} and {args.out / 'soak.png'}; "
          f"load average now {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if result.failures:
        print("failures (first 5):", *result.failures[:5], sep="\n  ")


if __name__ == "__main__":
    main()
