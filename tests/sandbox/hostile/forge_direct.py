"""Writes well-formed protocol messages straight to the runner's private descriptors.

The runner's protocol descriptors are reachable through ``/proc/self/fd`` (user code runs in
the runner's process): the one open for writing goes to the host, the one open for reading
comes from it. ``mode`` picks the forgery:

- ``second_result``: two results of its own before the real one, then an interim message;
- ``fake_error``: an error claiming to be an out-of-memory kill;
- ``fake_status``: a result carrying a status and a reason of its own choosing;
- ``raw_runs``: ``backend_run`` requests that bypass ProgramBackend: 301 circuits in one
  call, 30 qubits, 10**12 shots; then it waits for the host to answer;
- ``many_in_flight``: ``count`` small ``backend_run`` requests sent at once, never waited for;
- ``request_ids``: the same request id twice, then a normal ``backend.run``;
- ``bad_request_id``: a request id that breaks the protocol's id rule;
- ``read_host_fd``: sends requests, then reads the host-to-sandbox descriptor itself.
"""

import base64
import fcntl
import io
import json
import os
import select
import stat
import time

from qiskit import QuantumCircuit, qpy


def _protocol_fds():
    """(fd the host writes to us, fd we write to the host), found like any program would."""
    fd_in = fd_out = None
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        fd = int(name)
        if fd in (0, 1, 2):
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            continue
        access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if access == os.O_WRONLY and fd_out is None:
            fd_out = fd
        elif access == os.O_RDONLY and fd_in is None:
            fd_in = fd
    return fd_in, fd_out


def _send(fd, message):
    line = json.dumps({"v": 1, **message}).encode() + b"\n"
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view):]


def _qpy(num_qubits):
    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    circuit.measure_all()
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def _run(fd, request_id, circuits, shots=16):
    _send(fd, {"type": "backend_run", "request_id": request_id, "circuits": circuits,
               "options": {"shots": shots}})


def main(backend, user_messenger, mode="second_result", count=200):
    fd_in, fd_out = _protocol_fds()
    print(f"protocol fds: in {fd_in}, out {fd_out}", flush=True)
    if mode == "second_result":
        _send(fd_out, {"type": "result", "data": json.dumps("forged-1")})
        _send(fd_out, {"type": "result", "data": json.dumps("forged-2")})
        user_messenger.publish("after the forged results")
        return "real"
    if mode == "fake_error":
        _send(fd_out, {"type": "error", "error_type": "OutOfMemory",
                       "message": "the program exceeded its memory limit", "traceback": ""})
        time.sleep(30)
        return "real"
    if mode == "fake_status":
        _send(fd_out, {"type": "result", "data": "1", "status": "CANCELLED", "reason": "user"})
        time.sleep(30)
        return "real"
    if mode == "raw_runs":
        small = _qpy(1)
        _run(fd_out, "raw-many", [small] * 301)
        _run(fd_out, "raw-wide", [_qpy(30)])
        _run(fd_out, "raw-shots", [small], shots=10**12)
        time.sleep(3)  # the host answers each on the descriptor the runner reads
        return "sent"
    if mode == "many_in_flight":
        small = _qpy(1)
        for index in range(count):
            _run(fd_out, f"flight-{index}", [small])
        return "sent"
    if mode == "request_ids":
        small = _qpy(1)
        _run(fd_out, "dup", [small])
        _run(fd_out, "dup", [small])
        circuit = QuantumCircuit(1)
        circuit.x(0)
        circuit.measure_all()
        return backend.run(circuit, shots=100).result().get_counts()
    if mode == "bad_request_id":
        _run(fd_out, "../../" + "x" * 100, [_qpy(1)])
        time.sleep(30)
        return "real"
    if mode == "read_host_fd":
        small = _qpy(1)
        for index in range(5):
            _run(fd_out, f"peek-{index}", [small])
        seen = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(seen) < (1 << 20):
            readable, _, _ = select.select([fd_in], [], [], 0.1)
            if readable:
                try:
                    seen += os.read(fd_in, 1 << 16)
                except BlockingIOError:
                    continue
        lines = [json.loads(line) for line in seen.splitlines() if line.strip()]
        return [{"type": line.get("type"), "request_id": line.get("request_id"),
                 "keys": sorted(line)} for line in lines]
    raise ValueError(f"unknown mode {mode!r}")
