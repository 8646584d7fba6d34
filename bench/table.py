"""The one table format of the benchmarks, and how they repeat a measurement.

Every figure is a set of samples from repeated runs and is printed as its median, min and
max, beside its target and whether the median meets it (``met``, or ``MISSED``)::

    fig = Figure("replay 1,000 interim messages", samples_ms, "ms", Target.below(100))
    print_figures([fig])

Each script takes ``--quick`` (few repeats, small sizes: to check that it runs end to end,
not for figures); ``BENCH_QUICK=1`` in the environment does the same.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

QUICK_ENV = "BENCH_QUICK"


def machine() -> str:
    """CPU model, cores, memory, Python version and load of this machine."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{cpu}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
            f"; load average {load}")


@dataclass(frozen=True)
class Target:
    """A limit the median must stay below (or at most reach, or, for a rate, reach)."""

    limit: float
    higher_is_better: bool = False
    inclusive: bool = False

    @classmethod
    def below(cls, limit: float) -> Target:
        return cls(limit)

    @classmethod
    def at_most(cls, limit: float) -> Target:
        return cls(limit, inclusive=True)

    @classmethod
    def at_least(cls, limit: float) -> Target:
        return cls(limit, higher_is_better=True, inclusive=True)

    def met(self, value: float) -> bool:
        if self.higher_is_better:
            return value >= self.limit
        return value <= self.limit if self.inclusive else value < self.limit

    def text(self, unit: str) -> str:
        sign = ">=" if self.higher_is_better else "<=" if self.inclusive else "<"
        return f"{sign} {_number(self.limit)} {unit}".rstrip()


@dataclass(frozen=True)
class Figure:
    """One measured figure: its samples (already in ``unit``) and its target, if any."""

    name: str
    samples: Sequence[float]
    unit: str
    target: Target | None = None
    note: str = ""
    decimals: int | None = None  # None: chosen from the size of the numbers

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError(f"{self.name}: no samples")

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def status(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.target.met(self.median) else "MISSED"

    def cells(self) -> list[str]:
        values = [self.median, min(self.samples), max(self.samples)]
        return [
            self.name,
            *(f"{_number(value, self.decimals)} {self.unit}".rstrip() for value in values),
            self.target.text(self.unit) if self.target else "",
            self.status,
            f"n={len(self.samples)}" + (f"; {self.note}" if self.note else ""),
        ]


HEADER = ["measure", "median", "min", "max", "target", "status", "runs"]


def print_figures(figures: Sequence[Figure], *, title: str | None = None) -> None:
    """Print the machine line and the figures as an aligned table; the misses last."""
    if title:
        print(title)
    print(f"machine: {machine()}")
    rows = [HEADER, *(figure.cells() for figure in figures)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    for row in rows:
        cells = [row[0].ljust(widths[0]),
                 *(cell.rjust(width) for cell, width in zip(row[1:4], widths[1:4], strict=True)),
                 row[4].ljust(widths[4]), row[5].ljust(widths[5]), row[6]]
        print("  ".join(cells).rstrip())
    missed = [figure.name for figure in figures if figure.status == "MISSED"]
    print(f"targets missed: {'; '.join(missed)}" if missed else "targets missed: none")


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Print the machine line and free-form rows (measure, value, note), aligned: for
    figures that are not a median of repeats (counts, percentiles, one-off recoveries)."""
    print(f"machine: {machine()}")
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>10}  {note}")


def _number(value: float, decimals: int | None = None) -> str:
    if decimals is None:
        size = abs(value)
        decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:,.{decimals}f}"


# --- repeating -----------------------------------------------------------------------------


def add_quick_flag(parser: argparse.ArgumentParser) -> None:
    """``--quick``: a few repeats and small sizes, to check the script runs end to end."""
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get(QUICK_ENV, "") not in ("", "0"),
                        help=f"few repeats, small sizes (also ${QUICK_ENV}=1); not for figures")


def child_environment(*, drop_prefixes: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """This process's environment for a timed child process, as a user's shell would have it.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: an installed package has its ``.pyc`` files
    (pip compiles them), so a child that recompiled every module would time the compiler.
    Variables starting with one of ``drop_prefixes`` are dropped too; ``extra`` is added."""
    env = {key: value for key, value in os.environ.items()
           if key != "PYTHONDONTWRITEBYTECODE"
           and not (drop_prefixes and key.startswith(drop_prefixes))}
    env.update(extra)
    return env


def timed(function: Callable[[], Any]) -> float:
    """Seconds one call of ``function`` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def samples(function: Callable[[], Any], runs: int, *, scale: float = 1000.0) -> list[float]:
    """``runs`` timings of ``function``, in milliseconds (``scale`` 1000) or seconds (1)."""
    return [timed(function) * scale for _ in range(runs)]


def interleaved(functions: dict[str, Callable[[], Any]], runs: int, *,
                scale: float = 1000.0) -> dict[str, list[float]]:
    """Time each function ``runs`` times, taking turns, so that load drifts hit all alike."""
    found: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            found[name].append(timed(function) * scale)
    return found

