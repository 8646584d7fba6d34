"""One settings object for the whole engine, readable from the environment.

Every tunable that is not a policy (policies live in ``policies/*.yaml``) is a field here.
Environment variables are the field names in upper case with the ``ENGINE_`` prefix, for
example ``ENGINE_HOME`` or ``ENGINE_MAX_CONCURRENT_JOBS``. A config file (YAML or JSON, the
field names as keys) named by ``$ENGINE_CONFIG`` (``program-engine serve --config FILE``)
supplies values below the environment: arguments win over the environment, the environment
over the file, the file over the defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engine.errors import ConfigurationError
from engine.settings_env import CONFIG_ENV, ENV_PREFIX
from engine.settings_env import default_home as _default_home

MAX_CONFIG_BYTES = 1_000_000


class Settings(BaseSettings):
    """Engine-wide settings; see the README's "Configuration" section."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

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
    executor: str = Field(
        default="local",
        pattern="^(local|ray)$",
        description="Where queued jobs run: 'local' (sandboxes on this host) or 'ray' "
        "(one task per job on the Ray cluster at ray_address).",
    )
    ray_address: str | None = Field(
        default=None, description="HOST:PORT of the Ray cluster's head (executor 'ray')."
    )
    ray_reaper_seconds: float = Field(
        default=5.0, gt=0, description="How often each Ray node's reaper looks for orphaned "
        "sandbox containers."
    )
    host: str = Field(
        default="127.0.0.1", description="Address `program-engine serve` listens on."
    )
    port: int = Field(
        default=8787, ge=1, le=65535, description="Port `program-engine serve` listens on."
    )
    log_format: str = Field(
        default="logfmt", pattern="^(logfmt|json)$",
        description="Lines of `program-engine serve`'s log: 'logfmt' (key=value) or 'json'.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFile(settings_cls), file_secret_settings)


class _ConfigFile(PydanticBaseSettingsSource):
    """The values of the config file named by ``$ENGINE_CONFIG``, if it is set."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get(CONFIG_ENV, "").strip()
        self.values = read_config_file(Path(path), settings_cls) if path else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def read_config_file(path: Path, settings_cls: type[BaseSettings] | None = None
                     ) -> dict[str, Any]:
    """Parse a config file: a YAML (or JSON) mapping of setting names to values.

    Unknown names are refused, so a typo cannot pass silently.
    """
    import yaml

    known = set((settings_cls or Settings).model_fields)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigurationError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigurationError(f"{path}: cannot read config file: {reason}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: not valid YAML or JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: a config file must hold a mapping of settings")
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
