"""Benchmark RuntimeEncoder / RuntimeDecoder: throughput and peak memory.

    .venv/bin/python bench/serialization.py [--repeat N] [--memory-runs M] [--quick]

Three payloads: a 10 MiB float64 ndarray, 1,000 small circuits, and a Result with 100
experiments. Encode and decode times are the median, min and max of N runs in this process
(taking turns); the throughput is the payload over the sum of the two medians. Peak memory
is measured in M fresh subprocesses per payload and direction (median, min and max), as
resident memory (so allocations made in C and
Rust count too): the kernel's high-water mark is reset just before the operation
(``/proc/self/clear_refs``), and the peak above the resident size just before it is reported
as a multiple of the payload, the encoded JSON text. For encoding, the value being encoded
already exists; for decoding, the text does, and the decoded value is part of the peak
("decoded value" is what it keeps resident afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from table import Figure, Target, add_quick_flag, interleaved, print_figures

from engine.serialization import RuntimeDecoder, RuntimeEncoder

TARGET_MULTIPLE = 3.0


def ndarray_payload() -> Any:
    import numpy as np

    return np.random.default_rng(7).random((10 << 20) // 8)


def circuits_payload() -> Any:
    from qiskit.circuit.random import random_circuit

    return [random_circuit(5, 4, measure=True, seed=seed) for seed in range(1000)]


def result_payload() -> Any:
    from qiskit.result import Result

    experiments = []
    for index in range(100):
        counts = {hex(outcome): (outcome * 7919 + index) % 97 + 1 for outcome in range(256)}
        experiments.append(
            {
                "shots": sum(counts.values()),
                "success": True,
                "data": {"counts": counts},
                "header": {"name": f"circuit-{index}", "memory_slots": 8, "metadata": {"i": index}},
                "status": "DONE",
                "seed_simulator": 1234 + index,
                "time_taken": 0.01,
            }
        )
    return Result.from_dict(
        {
            "backend_name": "aer_simulator",
            "backend_version": "0.18.2",
            "job_id": "bench",
            "success": True,
            "results": experiments,
        }
    )


PAYLOADS: dict[str, tuple[str, Callable[[], Any]]] = {
    "ndarray": ("10 MiB float64 ndarray", ndarray_payload),
    "circuits": ("1,000 small circuits", circuits_payload),
    "result": ("Result, 100 experiments", result_payload),
}


def encode(value: Any) -> str:
    return json.dumps(value, cls=RuntimeEncoder)


def decode(text: str) -> Any:
    return json.loads(text, cls=RuntimeDecoder)


def _status_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))


def _settle() -> None:
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure_child(name: str, direction: str) -> None:
    """In a fresh process: print the peak resident memory one operation adds, in bytes."""
    value = PAYLOADS[name][1]()
    text = encode(value)
    size = len(text)
    if direction == "decode":
        del value
        operation: Callable[[], Any] = lambda: decode(text)  # noqa: E731
    else:
        del text
        operation = lambda: encode(value)  # noqa: E731
    _settle()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    result = operation()
    peak = _status_kib("VmHWM")
    _settle()
    kept = _status_kib("VmRSS")
    del result
    print(
        json.dumps(
            {
                "payload": size,
                "peak": max(0, peak - before) * 1024,
                "kept": max(0, kept - before) * 1024,
            }
        )
    )


def measure(name: str, direction: str) -> dict[str, int]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", name, direction],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--memory-runs", type=int, default=5)
    parser.add_argument(
        "--child", nargs=2, metavar=("PAYLOAD", "DIRECTION"), help=argparse.SUPPRESS
    )
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.child:
        measure_child(*args.child)
        return
    if args.quick:
        args.repeat, args.memory_runs = 2, 1

    figures: list[Figure] = []
    target = Target.at_most(TARGET_MULTIPLE)
    for name, (label, build) in PAYLOADS.items():
        value = build()
        text = encode(value)
        size = len(text)
        times = interleaved({"encode": lambda value=value: encode(value),
                             "decode": lambda text=text: decode(text)}, args.repeat)
        memory = {direction: [measure(name, direction) for _ in range(args.memory_runs)]
                  for direction in ("encode", "decode")}
        throughput = size / 1e6 / ((statistics.median(times["encode"])
                                    + statistics.median(times["decode"])) / 1000)
        about = f"{label} ({size / 1e6:.2f} MB of JSON)"
        figures += [
            Figure(f"{about}: encode", times["encode"], "ms"),
            Figure(f"{about}: decode", times["decode"], "ms"),
            Figure(f"{about}: encode+decode throughput", [throughput], "MB/s",
                   note="payload / (median encode + median decode)"),
            Figure(f"{about}: peak memory encoding (x payload)",
                   [run["peak"] / size for run in memory["encode"]], "x", target, decimals=2),
            Figure(f"{about}: peak memory decoding (x payload)",
                   [run["peak"] / size for run in memory["decode"]], "x", target, decimals=2),
            Figure(f"{about}: decoded value kept (x payload)",
                   [run["kept"] / size for run in memory["decode"]], "x", decimals=2),
        ]
        del value, text
    print_figures(figures, title="RuntimeEncoder / RuntimeDecoder")

if __name__ == "__main__":
    main()
