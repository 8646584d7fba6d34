"""Benchmark ``check_payload``: what checking a result or interim text on arrival costs.

    .venv/bin/python bench/payload_check.py [--repeat N]

For each payload: the cheap checks alone (what an interim message gets: size, lone
surrogates, depth and value count on the text) and with the trial decode (what a final result
gets). Median of N runs with min and max, in this process. The payloads are the shapes that
cost the scan most (many short strings, many numbers, deep nesting), large results (an
ndarray is one long base64 string) and the two bombs of the test suite.
Target: a result within the protocol's 96 MiB line cap is checked in a few seconds (the check
runs off the relay thread; it bounds how long the end of a job waits for it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from table import print_table

from engine.errors import DecodeError
from engine.serialization import RuntimeEncoder, check_payload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bombs of the tests
from tests.serialization.bombs import array_bomb, npy_zeros_wire, vector_bomb

TARGET_SECONDS = 5.0


def payloads() -> dict[str, str]:
    return {
        "32 MiB random ndarray": json.dumps(
            {"big": np.random.default_rng(7).random(4 << 20)}, cls=RuntimeEncoder),
        "128 MiB zero ndarray": json.dumps({"big": npy_zeros_wire((16 << 20,))}),
        "1.5 M floats": json.dumps([0.5] * 1_500_000),
        "1.5 M short strings": json.dumps(["ab,[{"] * 1_500_000),
        "200,000-deep nesting": "[" * 200_000 + "]" * 200_000,
        "emoji text, escaped": json.dumps(["caf\u00e9 \U0001f600"] * 200_000),
        "vector bomb (1.4 KB)": vector_bomb(),
        "array bomb (1.4 MB)": array_bomb(),
    }


def timed(action: Callable[[], None], repeat: int) -> tuple[float, float, float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(DecodeError):  # refusing is what a bomb should cost
            action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds), max(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    rows = []
    for name, text in payloads().items():
        for label, trial in (("cheap", False), ("trial decode", True)):
            median, low, high = timed(lambda t=text, d=trial: check_payload(t, trial_decode=d),
                                      repeat)
            verdict = "met" if median <= TARGET_SECONDS else "missed"
            rows.append((f"{name}, {label}", f"{median:.3f} s",
                         f"min {low:.3f}, max {high:.3f}; {len(text) / 2**20:.1f} MiB of text; "
                         f"target {TARGET_SECONDS:g} s {verdict}"))
    print_table(rows)


if __name__ == "__main__":
    main()
