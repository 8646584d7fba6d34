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

    @property
    def cache_dir(self) -> Path:
        """Where build inputs (rootfs tarball, wheelhouse) are kept between builds."""
        return self.home / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
