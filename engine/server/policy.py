"""``policies/server.yaml``: the daemon's limits, validated once at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

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


class Connections(_Frozen):
    """Bounds on slow, stale and too many clients, enforced by the HTTP protocol itself."""

    header_timeout_seconds: float = Field(gt=0, le=300)
    body_timeout_seconds: float = Field(gt=0, le=3600)
    body_min_bytes_per_second: PositiveInt
    unread_body_linger_seconds: float = Field(ge=0, le=60)
    keep_alive_seconds: float = Field(gt=0, le=300)
    max_header_bytes: int = Field(ge=1024, le=1_048_576)
    max_header_count: int = Field(ge=8, le=10_000)
    max_per_client: PositiveInt
    max_total: PositiveInt | None = None
    fd_reserve_fraction: float = Field(ge=0, lt=1)
    fd_reserve_min: int = Field(ge=0)
    refused_linger_seconds: float = Field(ge=0, le=10)


class LogRateLimit(_Frozen):
    """How many identical warnings and errors the daemon writes per interval."""

    burst: PositiveInt
    interval_seconds: float = Field(gt=0, le=86_400)
    max_kinds: PositiveInt


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
    stream_recheck_seconds: float = Field(gt=0, le=300)
    max_streams_per_user: PositiveInt
    max_streams_total: PositiveInt
    stream_queue_events: int = Field(default=1024, ge=16, le=1_000_000)
    max_log_event_chars: int = Field(default=65536, ge=256, le=16_777_216)
    wait_slice_seconds: float = Field(gt=0, le=5)
    readiness_timeout_seconds: float = Field(gt=0, le=300)
    worker_threads: int = Field(ge=4, le=4096)
    drain_seconds: float = Field(ge=0, le=3600)
    connections: Connections
    log_rate_limit: LogRateLimit

    @model_validator(mode="after")
    def _streams_leave_threads(self) -> ServerPolicy:
        # A stream takes a worker thread to join and to re-check its token, and many may do
        # so at once: the streams of all users together must leave threads for every other
        # request.
        if self.max_streams_total >= self.worker_threads:
            raise ValueError(
                f"max_streams_total ({self.max_streams_total}) must be below worker_threads "
                f"({self.worker_threads}): open event streams take worker threads"
            )
        if self.max_streams_per_user > self.max_streams_total:
            raise ValueError("max_streams_per_user must not exceed max_streams_total")
        return self


def load_server_policy() -> ServerPolicy:
    """Read and validate ``policies/server.yaml``; :class:`PolicyError` names each bad key."""
    return load_policy_model("server", ServerPolicy)
