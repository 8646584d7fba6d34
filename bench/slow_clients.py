"""Daemon under slow clients: how long ``/healthz`` takes while 50 clients trickle headers.

    .venv/bin/python bench/slow_clients.py [--slow 50] [--rounds 5] [--requests 20]

Starts ``program-engine serve`` on 127.0.0.1 with a fresh home and the shipped policies
(header timeout 10 s, 256 connections per address). Each round measures ``GET /healthz``
on a fresh connection from 127.0.0.2, ``--requests`` times with no slow client, then again
while ``--slow`` clients on 127.0.0.1 each send their request headers one byte every 0.2 s
(slowloris); then the slow clients are dropped. Also measured: how long a request declaring
``Content-Length: 99999999999`` with a 2-byte body waits for its 413 (the body never comes).
Every figure is the median over all rounds' requests, with min and max, and the spread of
the per-round medians.

Then a flood: a second daemon started with a soft descriptor limit of ``--nofile`` (1024)
takes ``--flood`` half-sent requests from 127.0.1.x (200 per address). Reported: how many
were refused with 503, the daemon's peak open descriptors against its limit, whether a
connection opened before the flood is still served, how long until a fresh connection is
served again (the header timeout closing the flood), and the daemon's log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from table import print_table  # noqa: E402

from tests.server.conftest import Daemon  # noqa: E402

TRICKLE_SECONDS = 0.2


def _connect(port: int, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _timed(port: int, request: bytes, expect: bytes) -> float:
    """Milliseconds from connecting to reading an answer starting with ``expect``."""
    started = time.perf_counter()
    with _connect(port, "127.0.0.2") as sock:
        sock.sendall(request)
        answer = b""
        while not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    elapsed = (time.perf_counter() - started) * 1000
    if not answer.startswith(expect):
        raise RuntimeError(f"unexpected answer {answer[:120]!r}")
    return elapsed


class _Slowloris:
    """``count`` connections sending the headers of one request a byte at a time."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [_connect(port, "127.0.0.1") for _ in range(count)]
        self.stop = threading.Event()
        self.data = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 4000
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        position = 0
        while not self.stop.wait(TRICKLE_SECONDS) and position < len(self.data):
            byte = self.data[position:position + 1]
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(byte)
            position += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def _answer(sock: socket.socket) -> bytes:
    """A whole small answer (its body ends with "}"), or what came before the close."""
    answer = b""
    while not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def _flood(nofile: int, count: int) -> list[tuple[str, str, str]]:
    import psutil

    healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 256:
        raise SystemExit(f"this process needs {count + 256} descriptors (ulimit -n {soft})")
    with tempfile.TemporaryDirectory() as scratch:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))  # inherited by the daemon
        try:
            daemon = Daemon(Path(scratch) / "home").start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        server = psutil.Process(daemon.process.pid)  # type: ignore[union-attr]
        held: list[socket.socket] = []
        kept: list[float] = []
        try:
            before = _connect(daemon.port, "127.0.0.2")
            before.sendall(healthz)
            _answer(before)
            sampling, peaks = threading.Event(), [0]

            def sample() -> None:  # the daemon's open descriptors, as often as it can
                while not sampling.is_set():
                    with contextlib.suppress(psutil.Error):
                        peaks[0] = max(peaks[0], server.num_fds())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            for i in range(count):
                sock = _connect(daemon.port, f"127.0.1.{i // 200 + 1}")
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                held.append(sock)
                if i % 100 == 99:  # the connection opened before the flood, kept alive
                    asked = time.perf_counter()
                    before.sendall(healthz)
                    if _answer(before).startswith(b"HTTP/1.1 200"):
                        kept.append((time.perf_counter() - asked) * 1000)
            flooded = time.monotonic() - started
            with _connect(daemon.port, "127.0.0.3") as probe:
                probe.sendall(healthz)
                during = _answer(probe)[9:12].decode() or "closed"
            outcomes: dict[str, int] = {}
            for sock in held:  # each ends with 503 (refused) or 408 (its header timeout)
                sock.settimeout(60)
                status = _answer(sock)[9:12].decode() or "closed"
                outcomes[status] = outcomes.get(status, 0) + 1
            cleared = time.monotonic() - started
            sampling.set()
            sampler.join()
            with _connect(daemon.port, "127.0.0.3") as probe:
                probe.sendall(healthz)
                after = _answer(probe)[9:12].decode() or "closed"
        finally:
            for sock in held:
                sock.close()
            daemon.stop()
        lines = daemon.log_text().splitlines()
    if "--show-log" in sys.argv:
        print("\n".join(lines))
    return [
        (f"half-sent requests ({nofile}-descriptor daemon)", f"{count}",
         f"all open after {flooded:.1f} s, from {count // 200 + 1} addresses"),
        ("  refused with 503", f"{outcomes.pop('503', 0)}", ""),
        ("  admitted, closed at the header timeout (408)", f"{outcomes.pop('408', 0)}",
         f"other endings: {outcomes or 'none'}"),
        ("  daemon's peak open descriptors", f"{peaks[0]}", f"limit {nofile}"),
        ("  /healthz on a connection opened before", f"{len(kept)}/{count // 100} served",
         f"median {statistics.median(kept):.1f} ms during the flood" if kept else ""),
        ("  a fresh connection at the flood's end", during, ""),
        ("  every flood connection closed after", f"{cleared:.1f} s",
         f"from the flood's start; then a fresh connection: {after}"),
        ("  daemon log lines in all", f"{len(lines)}",
         f"{sum('refused a connection' in line for line in lines)} about refusals, "
         f"{sum('not complete within' in line for line in lines)} about header timeouts"),
    ]


def _summary(samples: list[float], rounds: list[list[float]]) -> tuple[str, str]:
    medians = [statistics.median(r) for r in rounds]
    return (f"{statistics.median(samples):.2f} ms",
            f"min {min(samples):.2f}, max {max(samples):.2f} ms; round medians "
            f"{min(medians):.2f} to {max(medians):.2f} ms ({len(samples)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=50, help="slow clients at once")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20, help="/healthz per round and case")
    parser.add_argument("--flood", type=int, default=2000, help="half-sent requests at once")
    parser.add_argument("--nofile", type=int, default=1024, help="the flooded daemon's limit")
    parser.add_argument("--show-log", action="store_true", help="print the flooded log")
    args = parser.parse_args()

    healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    huge = (b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999\r\n\r\n{}")
    quiet: list[list[float]] = []
    loaded: list[list[float]] = []
    refused: list[list[float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        daemon = Daemon(Path(scratch) / "home").start()
        try:
            for _ in range(3):
                _timed(daemon.port, healthz, b"HTTP/1.1 200")  # warm up
            for _ in range(args.rounds):
                quiet.append([_timed(daemon.port, healthz, b"HTTP/1.1 200")
                              for _ in range(args.requests)])
                refused.append([_timed(daemon.port, huge, b"HTTP/1.1 413")
                                for _ in range(args.requests)])
                slow = _Slowloris(daemon.port, args.slow)
                try:
                    time.sleep(1)  # every slow client has sent a few bytes
                    loaded.append([_timed(daemon.port, healthz, b"HTTP/1.1 200")
                                   for _ in range(args.requests)])
                finally:
                    slow.close()
                time.sleep(0.5)
        finally:
            daemon.stop()

    def flat(rounds: list[list[float]]) -> list[float]:
        return [value for samples in rounds for value in samples]

    print_table([
        ("/healthz, fresh connection, no slow client", *_summary(flat(quiet), quiet)),
        (f"/healthz, fresh connection, {args.slow} slow clients", *_summary(flat(loaded),
                                                                           loaded)),
        ("413 for Content-Length 99999999999 (body never sent)",
         *_summary(flat(refused), refused)),
        *_flood(args.nofile, args.flood),
    ])


if __name__ == "__main__":
    main()
