"""Host bounds of the daemon: liveness under the heaviest job, cancel latency, RSS through bombs.

    .venv/bin/python bench/host_bounds.py [--rounds 5] [--requests 120] [--quick]

Starts ``program-engine serve`` on 127.0.0.1 in a temporary home with two users made by
``program-engine users add`` (alice and bob), and a copy of ``policies/`` with the per-user
rate limit lifted (the figures measure the daemon, not the limiter) and the upload scanner in
``warn`` mode: the hostile program below must reach the sandbox, since what is measured is what
the host does when a program gets past the scanner. Each round:

- ``/healthz`` latency (sequential GETs on one keep-alive connection) with no job running, then
  while bob's heaviest admitted job simulates: ``backend.run`` of a 26-qubit statevector
  brickwork (``admission.max_qubits``; 2 layers keep it under ``max_estimated_seconds``) with
  several calls in flight. Target: under 100 ms;
- then the cancel of that job: the ``POST /v1/jobs/{id}/cancel`` call, the time to a final
  state, and the time until its simulation worker (a child of the daemon's fork server, found
  with psutil before the cancel) is gone. Target: the call and the final state within 2 s;
- the daemon's RSS (psutil) before and after, and its peak (``VmHWM``, reset before each), for
  a job whose inputs are the vector bomb (ParameterVectors of a million elements) and one whose
  inputs are the array bomb (1 GiB of float64 zeros), both refused with 422; and for a job whose
  program publishes the array bomb as an interim message (``hostile/raw_payload.py``) and
  writes the QPY nested-definition bomb as a ``backend_run`` request
  (``hostile/forge_direct.py``), its interim message then read back over HTTP. Target: the
  daemon stays under 1 GiB.

Latency figures are the median over rounds of each round's figure, with min and max over
rounds. The machine's load average is printed at the start and the end: on a shared, busy
machine the latencies are upper bounds of what the daemon costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from table import child_environment, print_table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the bombs and hostile programs of the tests
from tests.backends.backend_circuits import nested_definition_bomb  # noqa: E402
from tests.serialization.bombs import array_bomb, vector_bomb  # noqa: E402
from tests.server.conftest import Daemon  # noqa: E402

CLI = Path(sys.executable).with_name("program-engine")
HOSTILE = REPO / "tests" / "sandbox" / "hostile"
MIB = 1 << 20
FINAL = {"DONE", "ERROR", "CANCELLED"}
HEALTHZ_TARGET_MS = 100.0
CANCEL_TARGET_S = 2.0
RSS_TARGET = 1024 * MIB
HEAVY_QUBITS = 26

HEAVY = """
from backend_circuits import brickwork


def main(backend, user_messenger, qubits, layers, calls):
    circuit = brickwork(qubits, layers)
    jobs = [backend.run(circuit, shots=16) for _ in range(calls)]
    return [len(job.result().get_counts()) for job in jobs]
"""

BOMBER = """
import time

import forge_direct
import raw_payload


def main(backend, user_messenger, qpy_bomb):
    raw_payload.main(backend, user_messenger, "array_bomb", how="publish")
    fd_in, fd_out = forge_direct._protocol_fds()
    forge_direct._run(fd_out, "qpy-bomb", [qpy_bomb])
    # One job's calls are served in order: a small call answered means the bomb was handled.
    circuit = forge_direct.QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    started = time.monotonic()
    counts = backend.run(circuit, shots=16).result().get_counts()
    return {"counts": counts, "seconds": time.monotonic() - started}
"""


# --- the daemon ----------------------------------------------------------------------------------


def _policies(target: Path) -> Path:
    shutil.copytree(REPO / "policies", target)
    for name, changes in (("server", {"rate_limit": {"requests_per_second": 1_000_000,
                                                     "burst": 1_000_000}}),
                          ("scan", {"mode": "warn"})):
        path = target / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        data.update(changes)
        path.write_text(yaml.safe_dump(data))
    return target


def _add_user(home: Path, name: str) -> str:
    """``program-engine users add``; its standard output is the token."""
    env = child_environment(drop_prefixes=("ENGINE_",))
    done = subprocess.run([str(CLI), "users", "add", name, "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def _folder(root: Path, name: str, entry: str, helpers: list[Path]) -> Path:
    """A program folder: ``NAME.py`` from ``entry``, its metadata, and helper modules beside."""
    folder = root / name
    folder.mkdir()
    (folder / f"{name}.py").write_text(entry)
    (folder / f"{name}.json").write_text(json.dumps(
        {"name": name, "description": "Host bounds benchmark.", "max_execution_time": 600}))
    for helper in helpers:
        shutil.copy(helper, folder / helper.name)
    return folder


def _status_bytes(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    """Reset the daemon's peak RSS (VmHWM) to what is resident now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _workers(daemon: psutil.Process) -> list[psutil.Process]:
    """The daemon's simulation workers: the children of its fork server."""
    found = []
    for child in daemon.children(recursive=True):
        try:
            parent = child.parent()
            if (parent is not None and parent.pid != daemon.pid
                    and "forkserver" in " ".join(parent.cmdline())):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


# --- one round -----------------------------------------------------------------------------------


class Round:
    """The measures of one round, taken against one daemon."""

    def __init__(self, daemon: Daemon, alice: httpx.Client, bob: httpx.Client,
                 programs: dict[str, str], requests: int) -> None:
        self.daemon = daemon
        self.process = psutil.Process(daemon.process.pid)
        self.alice, self.bob = alice, bob
        self.programs = programs
        self.requests = requests
        self.worker_rss: list[int] = []  # the heavy job's worker when the latencies start

    def healthz(self) -> list[float]:
        """Latencies in ms of ``requests`` sequential GETs of /healthz."""
        samples = []
        for _ in range(self.requests):
            started = time.perf_counter()
            response = self.alice.get("/healthz")
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"/healthz answered {response.status_code}")
        return samples

    def submit(self, client: httpx.Client, program: str, inputs: dict[str, Any]) -> str:
        response = client.post("/v1/jobs", json={"program_id": self.programs[program],
                                                 "inputs": inputs})
        if response.status_code != 201:
            raise RuntimeError(f"submit {program}: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def wait_final(self, client: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document = client.get(f"/v1/jobs/{job_id}").json()
            if document["status"] in FINAL:
                return dict(document)
            time.sleep(0.2)
        raise RuntimeError(f"job {job_id} not final within {timeout} s")

    def simulating_worker(self, job_id: str, timeout: float) -> psutil.Process:
        """The worker of the heavy job once its statevector is allocated and it computes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker in _workers(self.process):
                try:
                    if worker.memory_info().rss > 512 * MIB and sum(worker.cpu_times()[:2]) > 1:
                        return worker
                except psutil.Error:
                    continue
            document = self.bob.get(f"/v1/jobs/{job_id}").json()
            if document["status"] in FINAL:
                raise RuntimeError(f"the heavy job ended before simulating: {document['reason']}"
                                   f" {document['error']}")
            time.sleep(0.2)
        raise RuntimeError(f"no simulating worker within {timeout} s")

    def heavy(self) -> tuple[list[float], dict[str, float]]:
        """/healthz latencies while bob's heavy job simulates, then its cancel's timings."""
        job_id = self.submit(self.bob, "heavy", {"qubits": HEAVY_QUBITS, "layers": 2,
                                                 "calls": 4})
        worker = self.simulating_worker(job_id, timeout=240)
        self.worker_rss.append(worker.memory_info().rss)
        samples = self.healthz()
        if _gone(worker):
            raise RuntimeError("the heavy job's worker ended during the /healthz requests")
        times: dict[str, float] = {}
        started = time.perf_counter()
        response = self.bob.post(f"/v1/jobs/{job_id}/cancel")
        times["call"] = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"cancel answered {response.status_code} {response.text}")
        deadline = started + 60
        while time.perf_counter() < deadline and len(times) < 3:
            if "worker" not in times and _gone(worker):
                times["worker"] = time.perf_counter() - started
            if "final" not in times:
                status = self.bob.get(f"/v1/jobs/{job_id}").json()["status"]
                if status in FINAL:
                    times["final"] = time.perf_counter() - started
            time.sleep(0.005)
        if len(times) < 3:
            raise RuntimeError(f"cancel not complete within 60 s: {times}")
        return samples, times

    def rss(self, action: Callable[[], Any]) -> tuple[int, int, int, Any]:
        """The daemon's RSS before and after ``action``, its peak during, and what it gave."""
        pid = self.daemon.process.pid
        _reset_peak(pid)
        before = self.process.memory_info().rss
        outcome = action()
        peak = _status_bytes(pid, "VmHWM")
        return before, self.process.memory_info().rss, peak, outcome

    def input_bomb(self, text: str) -> str:
        body = json.dumps({"program_id": self.programs["bomber"],
                           "inputs": {"payload": json.loads(text)}})
        response = self.alice.post("/v1/jobs", content=body,
                                   headers={"Content-Type": "application/json"})
        return f"{response.status_code} {str(response.json().get('detail', ''))[:90]}"

    def hostile_job(self, qpy_bomb: str) -> str:
        job_id = self.submit(self.alice, "bomber", {"qpy_bomb": qpy_bomb})
        document = self.wait_final(self.alice, job_id, timeout=300)
        interim = self.alice.get(f"/v1/jobs/{job_id}/interim")  # read back, as a client would
        return (f"{document['status']} {document['reason']}, "
                f"{document['message_count']} interim message(s) kept, read back: "
                f"{interim.status_code} ({len(interim.content) / MIB:.1f} MiB)")


# --- figures -------------------------------------------------------------------------------------


def _p(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _row(name: str, values: list[float], unit: str, target: float | None) -> tuple[str, str, str]:
    """Median over rounds as the value; min, max and the target (``missed`` if so) as note."""
    digits = {"s": 3, "MiB": 0}.get(unit, 1)
    median = statistics.median(values)
    note = f"min {min(values):.{digits}f}, max {max(values):.{digits}f}"
    if target is not None:
        note += f"; target < {target:g} {unit}" + ("" if max(values) < target else " missed")
    return name, f"{median:.{digits}f} {unit}", note


def _latency_rows(label: str, rounds: list[list[float]]) -> list[tuple[str, str, str]]:
    return [
        _row(f"/healthz p50, {label}", [statistics.median(r) for r in rounds], "ms",
             HEALTHZ_TARGET_MS),
        _row(f"/healthz p99, {label}", [_p(r, 0.99) for r in rounds], "ms", HEALTHZ_TARGET_MS),
        _row(f"/healthz min, {label}", [min(r) for r in rounds], "ms", None),
        _row(f"/healthz max, {label}", [max(r) for r in rounds], "ms", HEALTHZ_TARGET_MS),
    ]


def _end_leftovers(processes: list[psutil.Process]) -> None:
    """Kill what the daemon started and left running 10 s after it ended (its fork server and
    workers end when their pipes close). ``is_running`` compares the start time, so a PID
    reused by another process is left alone."""
    _, alive = psutil.wait_procs(processes, timeout=10)
    for process in alive:
        try:
            if process.is_running():
                process.kill()
                print(f"killed leftover process {process.pid}: {' '.join(process.cmdline())[:80]}")
        except psutil.Error:
            continue


def _load() -> str:
    return ", ".join(f"{load:.2f}" for load in psutil.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=120, help="/healthz GETs per phase")
    parser.add_argument("--quick", action="store_true", help="one round, 100 requests")
    args = parser.parse_args()
    rounds, requests = (1, 100) if args.quick else (args.rounds, max(100, args.requests))

    print(f"load average at start: {_load()}", flush=True)
    qpy_bomb = nested_definition_bomb()
    bombs = {"vector bomb in inputs": vector_bomb(), "array bomb in inputs": array_bomb()}
    idle: list[list[float]] = []
    loaded: list[list[float]] = []
    cancels: dict[str, list[float]] = {"call": [], "final": [], "worker": []}
    memory: dict[str, list[tuple[int, int, int]]] = {}
    outcomes: dict[str, set[str]] = {}
    worker_rss: list[int] = []
    ours: dict[int, psutil.Process] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        home = root / "home"
        home.mkdir()
        tokens = {name: _add_user(home, name) for name in ("alice", "bob")}
        daemon = Daemon(home, _policies(root / "policies"))
        try:
            daemon.start(timeout=120)
            assert daemon.process is not None
            ours[daemon.process.pid] = psutil.Process(daemon.process.pid)
            with daemon.client(tokens["alice"]) as alice_service, \
                    daemon.client(tokens["bob"]) as bob_service, \
                    daemon.http(tokens["alice"]) as alice, daemon.http(tokens["bob"]) as bob:
                programs = {
                    "heavy": bob_service.upload_program(str(_folder(
                        root, "heavy", HEAVY, [REPO / "tests/backends/backend_circuits.py"]))),
                    "bomber": alice_service.upload_program(str(_folder(
                        root, "bomber", BOMBER,
                        [HOSTILE / "raw_payload.py", HOSTILE / "forge_direct.py"]))),
                }
                measure = Round(daemon, alice, bob, programs, requests)
                measure.healthz()  # warm the connection and the route
                measure.input_bomb("[]")  # the decoder's imports, before any peak is taken
                for number in range(rounds):
                    idle.append(measure.healthz())
                    for name, text in bombs.items():
                        *rss, outcome = measure.rss(lambda t=text: measure.input_bomb(t))
                        memory.setdefault(name, []).append(tuple(rss))
                        outcomes.setdefault(name, set()).add(outcome)
                    name = "hostile job (interim array bomb, QPY bomb)"
                    *rss, outcome = measure.rss(lambda: measure.hostile_job(qpy_bomb))
                    memory.setdefault(name, []).append(tuple(rss))
                    outcomes.setdefault(name, set()).add(outcome)
                    samples, times = measure.heavy()
                    ours.update((w.pid, w) for w in _workers(measure.process))
                    loaded.append(samples)
                    for key, value in times.items():
                        cancels[key].append(value)
                    print(f"round {number + 1}/{rounds} done; load average {_load()}",
                          flush=True)
                worker_rss = measure.worker_rss
                ours.update((child.pid, child) for child in measure.process.children(
                    recursive=True))
        finally:
            daemon.stop()
            _end_leftovers(list(ours.values()))

    rows = _latency_rows("no job", idle)
    rows += _latency_rows(f"bob's {HEAVY_QUBITS}-qubit job simulating", loaded)
    rows += [
        _row("cancel: HTTP call returns", cancels["call"], "s", CANCEL_TARGET_S),
        _row("cancel: job final", cancels["final"], "s", CANCEL_TARGET_S),
        _row("cancel: simulation worker gone", cancels["worker"], "s", None),
    ]
    for name, values in memory.items():
        name_, value, note = _row(f"daemon peak RSS, {name}",
                                  [peak / MIB for _, _, peak in values], "MiB", RSS_TARGET / MIB)
        befores = [before / MIB for before, _, _ in values]
        afters = [after / MIB for _, after, _ in values]
        note += (f"; RSS before {min(befores):.0f}..{max(befores):.0f}, "
                 f"after {min(afters):.0f}..{max(afters):.0f} MiB")
        rows.append((name_, value, note))
    print(f"{rounds} round(s), {requests} /healthz GETs per phase on one keep-alive connection")
    for name, seen in outcomes.items():
        print(f"{name}: {'; '.join(sorted(seen))}")
    print(f"heavy job's worker RSS as the /healthz GETs start: "
          f"{', '.join(f'{rss / MIB:.0f}' for rss in worker_rss)} MiB")
    print(f"load average at end: {_load()}")
    print_table(rows)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so the finally block runs
    main()
