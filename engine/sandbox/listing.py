"""The engine's sandbox containers on this host, as ``program-engine sandboxes`` shows them.

Read from Docker's labels and the containers' cgroups, so any process can list what another
(the daemon, an embedding script) holds warm: whose they are, which program, how much memory
each holds now, and how many processes run in it (an idle one under runc runs two: init and
the fork server).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.sandbox.cgroup import CGROUP_ROOT, ContainerCgroup
from engine.sandbox.container import LABEL_ENGINE, LABEL_JOB, LABEL_OWNER
from engine.sandbox.pool import LABEL_PROFILE, LABEL_PROGRAM, LABEL_USER


@dataclass(frozen=True)
class SandboxInfo:
    """One engine container."""

    id: str
    job: str  # the job it was created for, or warm-… when started ahead of time
    user: str | None
    program: str | None
    profile: str | None
    image: str
    state: str
    created: int  # Unix time
    memory_bytes: int | None
    processes: int | None
    owner: str | None  # the process identity of its creator

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_sandboxes(client: Any) -> list[SandboxInfo]:
    """Every engine container on this Docker host, oldest first."""
    found = []
    for info in client.api.containers(all=True, filters={"label": LABEL_ENGINE}):
        labels = info.get("Labels") or {}
        cgroup = ContainerCgroup(info["Id"])
        found.append(SandboxInfo(
            id=info["Id"],
            job=labels.get(LABEL_JOB, ""),
            user=labels.get(LABEL_USER) or None,
            program=labels.get(LABEL_PROGRAM) or None,
            profile=labels.get(LABEL_PROFILE) or None,
            image=info.get("Image", ""),
            state=info.get("State", ""),
            created=int(info.get("Created", 0)),
            memory_bytes=cgroup.memory_bytes(),
            processes=_processes(info["Id"]),
            owner=labels.get(LABEL_OWNER),
        ))
    return sorted(found, key=lambda sandbox: sandbox.created)


def _processes(container_id: str) -> int | None:
    for path in (CGROUP_ROOT / "pids" / "docker" / container_id / "pids.current",
                 CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope" / "pids.current"):
        try:
            return int(Path(path).read_text().strip())
        except (OSError, ValueError):
            continue
    return None
