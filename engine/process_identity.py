"""Naming this process so that another process can tell, later, whether it is still alive.

A process is ``HOST:PID:BOOT-START``: the host name, the PID, the first 8 hex digits of the
kernel's boot id and the process's start in milliseconds since boot. A recycled PID is not
mistaken for the process that created a container or claimed a job, a reboot ends every
process of the boot before, and changes of the wall clock change nothing (the start time
since the epoch moves with the kernel's boot time, a whole second at a time, when the clock
is adjusted: a long-running daemon would have taken itself for dead). Identities of the
earlier form ``HOST:PID:START`` (milliseconds since the epoch) are still understood.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path

import psutil


@lru_cache(maxsize=1)
def _boot() -> str:
    """This boot's id, shortened (``-`` where the kernel does not say)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8] or "-"
    except OSError:
        return "-"


def _started_since_boot(pid: int) -> int:
    """When ``pid`` started, in milliseconds since boot (``starttime`` in /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None
    ticks = int(stat.rpartition(")")[2].split()[19])  # field 22; the name may hold spaces
    return ticks * 1000 // os.sysconf("SC_CLK_TCK")


@lru_cache(maxsize=1)
def this_process() -> str:
    """The identity of the running process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_boot()}-{_started_since_boot(pid)}"


def _parse(identity: str | None) -> tuple[str, int, str] | None:
    try:
        host, pid, started = (identity or "").rsplit(":", 2)
        return host, int(pid), started
    except ValueError:
        return None


def is_local(identity: str | None) -> bool:
    """Whether ``identity`` names a process on this host."""
    parsed = _parse(identity)
    return parsed is not None and parsed[0] == socket.gethostname()


def is_alive(identity: str | None) -> bool:
    """Whether the process named by ``identity`` still runs.

    Identities of other hosts, or that cannot be parsed, count as alive: this host cannot
    judge them.
    """
    parsed = _parse(identity)
    if parsed is None or parsed[0] != socket.gethostname():
        return True
    _, pid, started = parsed
    boot, _, since_boot = started.rpartition("-")
    try:
        if boot:
            return boot == _boot() and abs(_started_since_boot(pid) - int(since_boot)) <= 1
        return abs(int(psutil.Process(pid).create_time() * 1000) - int(started)) <= 1
    except ValueError:
        return True
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
