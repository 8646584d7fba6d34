"""The sandbox policy (``policies/sandbox.yaml``): protocol limits, log cap, timing, profiles."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from engine.errors import PolicyError
from engine.policy_files import load_policy_model, read_policy_file, validate_policy


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


class SandboxPolicy(_Strict):
    protocol: ProtocolLimits
    logs: LogLimits
    timing: Timing
    warm_pool_size: int = Field(default=0, ge=0, le=64)
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
