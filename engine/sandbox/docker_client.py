"""Connecting to the Docker daemon, with an error that says how to fix it."""

from __future__ import annotations

import threading

import docker
import docker.errors
import requests.exceptions

from engine.errors import SandboxUnavailable
from engine.settings import get_settings

_HOW_TO_FIX = (
    "run `bash scripts/setup` (it installs docker.io and starts dockerd), or start the daemon "
    "yourself (as root: `dockerd &`), or point ENGINE_DOCKER_BASE_URL / DOCKER_HOST at it"
)
_client: docker.DockerClient | None = None
_lock = threading.Lock()


def connect(base_url: str | None = None, timeout: float = 120) -> docker.DockerClient:
    """A client for the configured daemon; raises :class:`SandboxUnavailable` if it does not
    answer."""
    base_url = base_url or get_settings().docker_base_url
    try:
        client = (
            docker.DockerClient(base_url=base_url, timeout=timeout)
            if base_url
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise SandboxUnavailable(f"Docker cannot be reached ({exc}); {_HOW_TO_FIX}") from None
    return client


def shared_client() -> docker.DockerClient:
    """One client per process, connected on first use."""
    global _client
    with _lock:
        if _client is None:
            _client = connect()
        return _client
