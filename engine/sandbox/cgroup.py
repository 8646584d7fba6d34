"""A running container's cgroup as the host sees it: CPU time, memory, peak and OOM kills.

A reused container serves several jobs, so a job's figures are differences (CPU) or
counters reset when the job starts (peak memory), and an OOM kill of a job's process, which
leaves the container running, shows as the cgroup's ``oom_kill`` count going up. These are
read from the host's cgroup files, which nothing inside the container can write: cgroup v1
(``/sys/fs/cgroup/<controller>/docker/<id>``) or v2 (``docker-<id>.scope`` under systemd, or
``docker/<id>``). Every method returns ``None`` (or False) when its file cannot be read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class ContainerCgroup:
    """The cgroup files of one container."""

    def __init__(self, container_id: str, root: Path = CGROUP_ROOT) -> None:
        self._v1 = {name: root / name / "docker" / container_id for name in ("cpuacct", "memory")}
        candidates = (root / "system.slice" / f"docker-{container_id}.scope",
                      root / "docker" / container_id)
        self._v2 = next((path for path in candidates if (path / "cgroup.procs").exists()), None)

    def cpu_seconds(self) -> float | None:
        """CPU time of every process the container ever ran, in seconds."""
        usage = _read_int(self._v1["cpuacct"] / "cpuacct.usage")
        if usage is not None:
            return usage / 1e9
        micros = self._v2_field("cpu.stat", "usage_usec")
        return micros / 1e6 if micros is not None else None

    def memory_bytes(self) -> int | None:
        """Memory charged to the container now."""
        value = _read_int(self._v1["memory"] / "memory.usage_in_bytes")
        if value is None and self._v2 is not None:
            value = _read_int(self._v2 / "memory.current")
        return value

    def peak_bytes(self) -> int | None:
        """The most memory charged since the container started or :meth:`reset_peak`."""
        value = _read_int(self._v1["memory"] / "memory.max_usage_in_bytes")
        if value is None and self._v2 is not None:
            value = _read_int(self._v2 / "memory.peak")
        return value

    def reset_peak(self) -> bool:
        """Start the peak over from the current usage (cgroup v1, as root); False if not."""
        with contextlib.suppress(OSError):
            (self._v1["memory"] / "memory.max_usage_in_bytes").write_text("0")
            return True
        return False

    def oom_kills(self) -> int | None:
        """How many processes the kernel's OOM killer ended in this container."""
        value = _read_field(self._v1["memory"] / "memory.oom_control", "oom_kill")
        if value is None:
            value = self._v2_field("memory.events", "oom_kill")
        return value

    def _v2_field(self, name: str, key: str) -> int | None:
        return _read_field(self._v2 / name, key) if self._v2 is not None else None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_field(path: Path, key: str) -> int | None:
    """The value of ``key`` in a flat-keyed cgroup file (``key value`` per line)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None
