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
#: What the SDK raises when the daemon is gone (its socket closed or missing) or does not
#: answer in time, as opposed to a refusal (``docker.errors.APIError``).
DOCKER_GONE: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
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


def answers(timeout: float) -> bool:
    """Whether the daemon answers a ping on a new connection within ``timeout`` seconds;
    never raises.

    A new connection, not the shared client's pooled one: a daemon shutting down closes its
    socket at once but keeps serving the connections already open until it exits. The
    shared client's own timeout is long (image builds); this probe's is not, so a daemon that
    hangs is noticed as quickly as one that is gone.
    """
    base_url = get_settings().docker_base_url
    try:
        options = {"base_url": base_url} if base_url else docker.utils.kwargs_from_env()
        client = _client  # its negotiated API version spares the probe a request
        version = client.api.api_version if client is not None else "auto"
        probe = docker.APIClient(version=version, timeout=timeout, **options)
        try:
            return bool(probe.ping())
        finally:
            probe.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False

