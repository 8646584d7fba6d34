"""Shared test set-up: Docker for tests marked ``docker``, and the sandbox's runtime image.

A test marked ``docker`` needs a reachable daemon. When there is none it is skipped with the
reason, except when ``ENGINE_REQUIRE_DOCKER=1`` or ``CI=true`` is set (``scripts/test`` and CI
set it): then it fails, so a run can never go green by skipping the sandbox.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

_STATUS: dict[str, tuple[Any, str | None]] = {}
_VERBOSE_BASE_LINES = ("Retrieving", "Extracting", "Configuring", "Validating", "Unpacking")


def docker_required() -> bool:
    """Whether an unreachable Docker must fail the docker-marked tests instead of skipping."""
    return (
        os.environ.get("ENGINE_REQUIRE_DOCKER", "").strip() == "1"
        or os.environ.get("CI", "").strip().lower() == "true"
    )


def _docker_status() -> tuple[Any, str | None]:
    """``(client, None)`` when the daemon answers, else ``(None, reason)``; checked once."""
    if "docker" not in _STATUS:
        from engine.errors import SandboxUnavailable
        from engine.sandbox.docker_client import connect

        try:
            _STATUS["docker"] = (connect(), None)
        except SandboxUnavailable as exc:
            _STATUS["docker"] = (None, str(exc))
    return _STATUS["docker"]


def _unavailable(reason: str) -> None:
    if docker_required():
        pytest.fail(
            f"Docker is required here (ENGINE_REQUIRE_DOCKER=1 or CI=true) but unavailable: "
            f"{reason}",
            pytrace=False,
        )
    pytest.skip(f"Docker unavailable: {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the docker-marked tests up front when Docker is missing and not required."""
    marked = [item for item in items if item.get_closest_marker("docker")]
    if not marked or docker_required():
        return
    _client, reason = _docker_status()
    if reason is None:
        return
    skip = pytest.mark.skip(
        reason=f"Docker unavailable ({reason}); set ENGINE_REQUIRE_DOCKER=1 to fail instead"
    )
    for item in marked:
        item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a docker-marked test when Docker is required and missing."""
    if item.get_closest_marker("docker") and docker_required():
        _client, reason = _docker_status()
        if reason is not None:
            _unavailable(reason)


@pytest.fixture(scope="session", name="docker")
def docker_fixture() -> Any:
    """A connected ``docker.DockerClient`` (skips or fails as described above)."""
    client, reason = _docker_status()
    if reason is not None:
        _unavailable(reason)
    return client


@pytest.fixture(scope="session")
def runtime_image(docker: Any, request: pytest.FixtureRequest) -> str:
    """The sandbox runtime image's tag, built once per session if it is missing.

    A first build takes a minute or two (debootstrap, wheels); its progress is printed.
    """
    from engine.sandbox.images import BuildProgress, ensure_runtime_image

    capture = request.config.pluginmanager.getplugin("capturemanager")
    last_phase: list[str] = []

    def show(event: BuildProgress) -> None:
        first = not last_phase or last_phase[-1] != event.phase
        if not first and event.phase == "base" and event.message.startswith(_VERBOSE_BASE_LINES):
            return
        last_phase.append(event.phase)
        step = f" {event.completed}/{event.total}" if event.total else ""
        line = f"[runtime image] {event.phase}{step}: {event.message[:110]}\n"
        if capture is None:
            sys.stderr.write(line)
            return
        with capture.global_and_fixture_disabled():
            sys.stderr.write(line)

    return ensure_runtime_image(docker, progress=show)
