"""Naming this process so that another process can tell, later, whether it is still alive.

A process is ``HOST:PID:START`` (start time in milliseconds), so a recycled PID is not
mistaken for the process that created a container or claimed a job.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache

import psutil


@lru_cache(maxsize=1)
def this_process() -> str:
    """The identity of the running process."""
    pid = os.getpid()
    started = int(psutil.Process(pid).create_time() * 1000)
    return f"{socket.gethostname()}:{pid}:{started}"


def _parse(identity: str | None) -> tuple[str, int, int] | None:
    try:
        host, pid, started = (identity or "").rsplit(":", 2)
        return host, int(pid), int(started)
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
    _, pid, started_ms = parsed
    try:
        return abs(int(psutil.Process(pid).create_time() * 1000) - started_ms) <= 1
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
