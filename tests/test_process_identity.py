"""Process identities: alive while the process runs, dead once it is gone or rebooted away,
and not moved by changes of the wall clock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

from engine.process_identity import is_alive, is_local, this_process

HOST = socket.gethostname()


def test_this_process_is_alive_and_local() -> None:
    me = this_process()
    assert me.startswith(f"{HOST}:{os.getpid()}:")
    assert is_local(me) and is_alive(me)


def test_another_start_boot_or_pid_is_dead() -> None:
    host_pid, _, started = this_process().rpartition(":")
    boot, _, since_boot = started.partition("-")
    assert not is_alive(f"{host_pid}:{boot}-{int(since_boot) + 20}")  # a recycled PID
    assert not is_alive(f"{host_pid}:{'0' * 8}-{since_boot}")  # a process of another boot
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not is_alive(f"{HOST}:{child.pid}:{started}")


def test_the_earlier_form_is_still_understood() -> None:
    started = int(psutil.Process().create_time() * 1000)
    assert is_alive(f"{HOST}:{os.getpid()}:{started}")
    assert not is_alive(f"{HOST}:{os.getpid()}:1")


def test_other_hosts_and_unreadable_identities_count_as_alive() -> None:
    assert is_alive("elsewhere:4242:1") and not is_local("elsewhere:4242:1")
    assert is_alive("not an identity") and is_alive(None)


def test_a_wall_clock_change_moves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's boot time (since the epoch) moves by a second when the clock is
    adjusted across a second; an identity made before still names this live process."""
    before = this_process()
    real = psutil.boot_time()
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: real + 1.0)
    assert this_process.__wrapped__() == before
    assert is_alive(before)
