"""Benchmark RuntimeEncoder / RuntimeDecoder: throughput and peak memory.

    .venv/bin/python bench/serialization.py [--repeat N]

Three payloads: a 10 MiB float64 ndarray, 1,000 small circuits, and a Result with 100
experiments. Throughput is the best of N runs in this process. Peak memory is measured in a
fresh subprocess per payload and direction, as resident memory (so allocations made in C and
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
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def best_time(operation: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--child", nargs=2, metavar=("PAYLOAD", "DIRECTION"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        measure_child(*args.child)
        return

    rows = []
    for name, (label, build) in PAYLOADS.items():
        value = build()
        text = encode(value)
        encode_s = best_time(lambda value=value: encode(value), args.repeat)
        decode_s = best_time(lambda text=text: decode(text), args.repeat)
        size = len(text)
        enc = measure(name, "encode")
        dec = measure(name, "decode")
        rows.append(
            (
                label,
                size,
                encode_s,
                decode_s,
                enc["peak"] / size,
                dec["peak"] / size,
                dec["kept"] / size,
            )
        )
        del value, text

    headers = (
        "payload", "JSON size", "encode", "decode", "encode+decode", "peak encode",
        "peak decode", "decoded value",
    )  # fmt: skip
    table = [
        (
            label,
            f"{size / 1e6:.2f} MB",
            f"{enc * 1e3:.0f} ms",
            f"{dec * 1e3:.0f} ms",
            f"{size / (enc + dec) / 1e6:.1f} MB/s",
            f"{enc_mem:.2f}x",
            f"{dec_mem:.2f}x",
            f"{kept:.2f}x",
        )
        for label, size, enc, dec, enc_mem, dec_mem, kept in rows
    ]
    _print_table(headers, table)
    for label, *_, enc_mem, dec_mem, kept in rows:
        worst = max(enc_mem, dec_mem)
        verdict = "met" if worst <= TARGET_MULTIPLE else "NOT met"
        print(
            f"{label}: peak {worst:.2f}x the payload, target {TARGET_MULTIPLE:g}x {verdict}"
            f" (the decoded value alone keeps {kept:.2f}x)"
        )


def _print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [
            max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)
        ]
        for line in (headers, *rows):
            print(
                "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
            )
        return
    table = Table(title="RuntimeEncoder / RuntimeDecoder")
    for header in headers:
        table.add_column(header, justify="left" if header == "payload" else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
