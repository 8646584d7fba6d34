"""The worker process that runs one job's simulations (the child side).

It starts from the fork server (never a fork of the multi-threaded engine), sets its own
memory, CPU and core-dump limits before it reads anything, then serves one request at a time
from its pipe: it decodes the circuits and run options (so a decoding bomb costs at most this
process), admits the decoded circuits, simulates, and answers with the ``Result`` as
RuntimeEncoder JSON. Every message either way is JSON in one ``send_bytes`` frame; a result
is a JSON header frame followed by the result's UTF-8 text in a frame of its own.

Replies: ``{"ready": pid}`` once; then per request one of ``{"result_bytes": n}`` (+ the text
frame), ``{"rejected": message, "limit": name}`` or ``{"error": type, "message": text}``. The
stage of the current request (decoding, or simulating) is a byte in shared memory, so that
the host can name the limit that ended a worker without a message per stage.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import warnings
from collections.abc import Iterator
from typing import Any

# Imported here so that the fork server preloads them: a new worker starts with Qiskit and
# Aer already in memory.
import qiskit_aer  # noqa: F401
from qiskit import qpy  # noqa: F401
from qiskit.providers.fake_provider import GenericBackendV2  # noqa: F401

from engine.backends.admission import check_decoded
from engine.backends.devices import build_backend
from engine.backends.policy import BackendPolicy
from engine.errors import BackendRejected, DecodeError
from engine.serialization import RuntimeDecoder, RuntimeEncoder, default_policy
from engine.serialization.circuits import read_circuit

MEMORY_LIMIT = "worker.max_memory_bytes"


DECODING, SIMULATING = 0, 1


def serve(connection: Any, config: dict[str, Any], stage: Any) -> None:
    """The worker's main: limits first, then requests until the pipe closes.

    Its standard output and error go to ``/dev/null``: what it has to say travels on the
    pipe, and a hostile payload must not fill the engine's log with native backtraces."""
    apply_limits(int(config["memory_bytes"]), int(config["cpu_seconds"]))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    policy = BackendPolicy.model_validate(config["policy"])
    backends: dict[tuple[str, str], Any] = {}
    _send(connection, {"ready": os.getpid()})
    while True:
        try:
            request = json.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        stage.value = DECODING
        try:
            text = _run(stage, policy, backends, request)
        except BackendRejected as exc:
            _send(connection, {"rejected": str(exc)[:2000], "limit": exc.limit})
        except MemoryError:
            _send(connection, {"rejected": f"the simulation ran out of memory in its worker "
                                           f"({MEMORY_LIMIT} = {int(config['memory_bytes'])})",
                               "limit": MEMORY_LIMIT})
        except Exception as exc:
            _send(connection, {"error": type(exc).__name__, "message": str(exc)[:2000]})
        else:
            data = text.encode("utf-8")
            del text
            if len(data) > int(config["max_reply_bytes"]) - 1024:
                _send(connection, {"rejected": f"the result has {len(data)} bytes, more than "
                                               f"worker.max_reply_bytes allows",
                                   "limit": "worker.max_reply_bytes"})
                continue
            _send(connection, {"result_bytes": len(data)})
            connection.send_bytes(data)


def apply_limits(memory_bytes: int, cpu_seconds: int) -> None:
    """Bound this process: private writable memory, CPU seconds, and no core files."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run(stage: Any, policy: BackendPolicy, backends: dict[tuple[str, str], Any],
         request: dict[str, Any]) -> str:
    with _decode_budget(int(policy.worker.max_decode_bytes)):
        circuits = [_load_circuit(c) for c in request["circuits"]]
        try:
            options = json.loads(json.dumps(request["options"]), cls=RuntimeDecoder)
        except (TypeError, ValueError) as exc:
            raise BackendRejected(f"invalid run options: {exc}", "allowed_run_options") from None
    method = request["method"]
    check_decoded(policy.admission, method, circuits, request["shots"], options)
    if method == "matrix_product_state":
        options["matrix_product_state_max_bond_dimension"] = (
            policy.admission.mps_max_bond_dimension
        )
    stage.value = SIMULATING
    key = (request["backend"], method)
    backend = backends.get(key)
    if backend is None:
        backend = backends[key] = build_backend(policy, request["backend"], method)
    result = backend.run(circuits, **options).result()
    del circuits
    return json.dumps(result, cls=RuntimeEncoder)


def _load_circuit(circuit_b64: str) -> Any:
    """One circuit from hostile QPY: headers checked, then Qiskit's reader, in this process."""
    try:
        raw = base64.b64decode(circuit_b64, validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_circuit(raw, default_policy(), "backend_run circuit")
    except DecodeError as exc:
        if "MemoryError" in str(exc):  # qiskit's Rust reader reports it as a panic
            raise MemoryError from None
        raise BackendRejected(str(exc), "qpy") from None
    except ValueError as exc:  # binascii.Error
        raise BackendRejected(f"a circuit is not valid base64: {exc}", "qpy") from None


@contextlib.contextmanager
def _decode_budget(budget: int) -> Iterator[None]:
    """Lower this process's memory limit to what it holds now plus ``budget`` while it
    decodes, so a decoding bomb fails early; the simulation then gets the full limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (min(hard, _data_bytes() + budget), hard))
    try:
        yield
    except MemoryError:
        raise BackendRejected(
            f"decoding the circuits needs more than worker.max_decode_bytes ({budget} bytes)",
            "worker.max_decode_bytes",
        ) from None
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _data_bytes() -> int:
    """This process's private writable memory (VmData), which RLIMIT_DATA bounds."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _send(connection: Any, message: dict[str, Any]) -> None:
    connection.send_bytes(json.dumps(message).encode("utf-8"))

