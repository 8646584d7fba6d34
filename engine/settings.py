"""One settings object for the whole engine, readable from the environment.

Every tunable that is not a policy (policies live in ``policies/*.yaml``) is a field here.
Environment variables are the field names in upper case with the ``ENGINE_`` prefix, for
example ``ENGINE_HOME`` or ``ENGINE_MAX_CONCURRENT_JOBS``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "program-engine"


class Settings(BaseSettings):
    """Engine-wide settings; see the README's "Configuration" section."""

    model_config = SettingsConfigDict(env_prefix="ENGINE_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="State folder.")
    docker_base_url: str | None = Field(
        default=None, description="Docker daemon URL; default: DOCKER_HOST or the local socket."
    )
    image_prefix: str = Field(
        default="program-engine", description="Repository prefix of every image the engine builds."
    )
    sandbox_runtime: str | None = Field(
        default=None, description="OCI runtime for sandboxes, e.g. 'runsc' for gVisor."
    )
    cache_dir: Path = Field(
        default_factory=lambda data: data["home"] / "cache",
        description="Build inputs kept between image builds (rootfs tarball, wheelhouse).",
    )
    base_image: str = Field(
        default="python:3.11-slim",
        description="Base of the runtime image when it is present or can be pulled; "
        "empty: always bootstrap a Debian rootfs.",
    )
    base_image_pull_timeout: float = Field(
        default=20.0, gt=0, description="Seconds allowed for pulling the base image."
    )
    debian_mirror: str | None = Field(
        default=None, description="Debian mirror for the rootfs bootstrap; default: the host's."
    )
    image_build_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds allowed for one image build."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite at <home>/engine.db.",
    )
    database_busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a SQLite writer waits for the write lock."
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="Database connections kept open per process."
    )
    database_max_overflow: int = Field(
        default=20, ge=0, description="Extra connections allowed beyond the pool size."
    )
    database_pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a free database connection."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
