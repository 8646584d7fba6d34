"""``policies/server.yaml``: the daemon's limits, validated once at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from engine.policy_files import load_policy_model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Frozen):
    """A token bucket per user."""

    requests_per_second: float = Field(gt=0)
    burst: PositiveInt


class ArchiveLimits(_Frozen):
    """What an uploaded folder archive may unpack to."""

    max_files: PositiveInt
    max_entries: PositiveInt
    max_total_bytes: PositiveInt
    max_stream_bytes: PositiveInt
    max_depth: PositiveInt
    max_name_length: PositiveInt


class ServerPolicy(_Frozen):
    """Every limit of the HTTP front door."""

    max_body_bytes: PositiveInt
    max_upload_bytes: PositiveInt
    rate_limit: RateLimit
    archive: ArchiveLimits
    max_page_size: PositiveInt
    max_wait_seconds: float = Field(gt=0, le=300)
    stream_heartbeat_seconds: float = Field(gt=0, le=300)
    stream_retry_ms: int = Field(ge=0, le=600_000)
    wait_slice_seconds: float = Field(gt=0, le=5)
    readiness_timeout_seconds: float = Field(gt=0, le=300)
    worker_threads: int = Field(ge=4, le=4096)
    drain_seconds: float = Field(ge=0, le=3600)


def load_server_policy() -> ServerPolicy:
    """Read and validate ``policies/server.yaml``; :class:`PolicyError` names each bad key."""
    return load_policy_model("server", ServerPolicy)
