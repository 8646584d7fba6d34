"""The one table format of the benchmarks: the machine, then ``measure  value  note`` rows."""

from __future__ import annotations

import platform

import psutil


def machine() -> str:
    """CPU model, cores, memory and Python version of this machine."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}")


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Print the machine line and the rows, aligned."""
    print(f"machine: {machine()}")
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>10}  {note}")
