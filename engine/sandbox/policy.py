"""The sandbox policy (``policies/sandbox.yaml``): protocol limits, log cap, timing, profiles.

A profile also names the sandbox's walls: its OCI runtime (``runc`` by default, ``runsc`` for
gVisor) and its seccomp profile, a JSON file under ``policies/`` (``seccomp.json``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from engine.errors import PolicyError
from engine.policy_files import (
    MAX_POLICY_BYTES,
    load_policy_model,
    policy_dir,
    read_policy_file,
    validate_policy,
)

DEFAULT_SECCOMP = "seccomp.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProtocolLimits(_Strict):
    max_line_bytes: ByteSize = Field(gt=0)
    max_messages: int = Field(gt=0)
    max_total_bytes: ByteSize = Field(gt=0)
    max_message_bytes: ByteSize = Field(gt=0)
    max_interim_messages: int = Field(gt=0)
    max_traceback_chars: int = Field(gt=0)


class LogLimits(_Strict):
    max_bytes: ByteSize = Field(ge=0)


class Timing(_Strict):
    final_grace_seconds: float = Field(gt=0)
    cancel_grace_seconds: float = Field(ge=0)
    write_timeout_seconds: float = Field(gt=0)
    ready_timeout_seconds: float = Field(gt=0)
    default_max_execution_time: float = Field(gt=0)


class ResourceProfile(_Strict):
    """The kernel-enforced limits of one container."""

    memory: ByteSize = Field(ge=16 * 1024 * 1024)
    cpus: float = Field(gt=0, le=256)
    pids: int = Field(ge=8)
    tmp_size: ByteSize = Field(gt=0)
    shm_size: ByteSize = Field(gt=0)
    nofile: int = Field(ge=16)
    fsize: ByteSize = Field(gt=0)
    # The OCI runtime registered with Docker ("runsc" for gVisor); None: Docker's default.
    # ENGINE_SANDBOX_RUNTIME, when set, overrides it for every profile.
    runtime: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    # The seccomp profile: a JSON file under policies/; None: Docker's built-in default.
    seccomp: str | None = Field(default=DEFAULT_SECCOMP,
                                pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\.json$")


class ImageUpkeep(_Strict):
    """When the daemon removes program images no job has used for a while."""

    # Seconds since a program image's last use after which it goes; None: never.
    prune_unused_after_seconds: float | None = Field(default=None, gt=0)
    # How often the daemon looks for such images.
    prune_every_seconds: float = Field(default=3600, ge=1, le=7 * 86400)


class SandboxPolicy(_Strict):
    protocol: ProtocolLimits
    logs: LogLimits
    timing: Timing
    images: ImageUpkeep = Field(default_factory=ImageUpkeep)
    warm_pool_size: int = Field(default=1, ge=0, le=64)
    # Reuse: a container serves further jobs of the same program version, user, resource
    # profile and OCI runtime (a fresh process each), up to reuse_max_jobs, while idle for
    # less than reuse_idle_seconds.
    reuse: bool = True
    reuse_max_jobs: int = Field(default=100, ge=1, le=1_000_000)
    reuse_idle_seconds: float = Field(default=300, gt=0, le=86_400)
    # What idle containers may hold together: the smaller of this share of the machine's
    # memory and warm_pool_max_memory (when set); the least recently used go first.
    warm_pool_memory_fraction: float = Field(default=0.08, gt=0, le=0.9)
    warm_pool_max_memory: ByteSize | None = Field(default=None, gt=0)
    warm_pool_max_idle_per_program: int = Field(default=16, ge=1, le=256)
    # An idle container's memory when its cgroup cannot be read.
    warm_pool_idle_estimate: ByteSize = Field(default=200 * 1024 * 1024, gt=0)
    # Host tasks an OCI runtime needs for itself, added to a profile's pids limit under it.
    runtime_pids_overhead: dict[str, int] = Field(default_factory=dict)
    default_profile: str
    profiles: dict[str, ResourceProfile]

    @model_validator(mode="after")
    def _default_profile_exists(self) -> SandboxPolicy:
        if self.default_profile not in self.profiles:
            raise ValueError(f"default_profile {self.default_profile!r} is not in profiles")
        return self

    def profile(self, name: str | None = None) -> ResourceProfile:
        """The named profile, or the default one."""
        name = name or self.default_profile
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise PolicyError(f"unknown resource profile {name!r} (known: {known})") from None


@lru_cache(maxsize=1)
def load_sandbox_policy(path: str | None = None) -> SandboxPolicy:
    """The sandbox policy from ``policies/sandbox.yaml`` or from ``path``."""
    if path is None:
        return load_policy_model("sandbox", SandboxPolicy)
    return validate_policy(SandboxPolicy, read_policy_file(Path(path)), str(path))


def seccomp_profile_text(name: str) -> str:
    """The seccomp profile ``policies/NAME`` as compact JSON, the form Docker takes in
    ``security_opt``; a :class:`PolicyError` names the file and what is wrong with it."""
    return _seccomp_profile_text(policy_dir() / name)


@lru_cache(maxsize=8)
def _seccomp_profile_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{path}: seccomp profile larger than {MAX_POLICY_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read seccomp profile: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: seccomp profile is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("syscalls"), list) or not (
        isinstance(data.get("defaultAction"), str)
    ):
        raise PolicyError(f"{path}: a seccomp profile is an object with a string "
                          f"defaultAction and a syscalls list")
    return json.dumps(data, separators=(",", ":"))
