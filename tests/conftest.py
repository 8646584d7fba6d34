"""Shared test set-up: Docker for tests marked ``docker``, PostgreSQL for tests marked
``postgres``, and the sandbox's runtime image.

A test marked ``docker`` needs a reachable daemon. When there is none it is skipped with the
reason, except when ``ENGINE_REQUIRE_DOCKER=1`` or ``CI=true`` is set (``scripts/test`` and CI
set it): then it fails, so a run can never go green by skipping the sandbox. Tests marked
``postgres`` are handled the same way: they need the server ``scripts/setup`` starts, reached
over its unix socket as ``$ENGINE_TEST_POSTGRES_URL`` (default :data:`POSTGRES_URL`).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest

_STATUS: dict[str, tuple[Any, str | None]] = {}
_VERBOSE_BASE_LINES = ("Retrieving", "Extracting", "Configuring", "Validating", "Unpacking")
# The maintenance database of the test server; each test module gets a database of its own.
POSTGRES_URL = "postgresql+psycopg://engine:engine@/postgres?host=/var/run/postgresql"


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


def _postgres_status() -> tuple[Any, str | None]:
    """``(admin url, None)`` when the test server answers, else ``(None, reason)``; once."""
    if "postgres" not in _STATUS:
        url = os.environ.get("ENGINE_TEST_POSTGRES_URL", "").strip() or POSTGRES_URL
        try:
            import sqlalchemy

            engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 5})
            try:
                with engine.connect() as connection:
                    connection.execute(sqlalchemy.text("SELECT 1"))
            finally:
                engine.dispose()
            _STATUS["postgres"] = (url, None)
        except Exception as exc:  # the driver missing, the server down, a refused login
            _STATUS["postgres"] = (None, f"{type(exc).__name__}: {str(exc).strip()[:300]}")
    return _STATUS["postgres"]


_SERVICES = {"docker": ("Docker", _docker_status), "postgres": ("PostgreSQL", _postgres_status)}


def _unavailable(reason: str, what: str = "Docker") -> None:
    if docker_required():
        pytest.fail(
            f"{what} is required here (ENGINE_REQUIRE_DOCKER=1 or CI=true) but unavailable: "
            f"{reason}",
            pytrace=False,
        )
    pytest.skip(f"{what} unavailable: {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the docker- and postgres-marked tests up front when their service is missing
    and not required."""
    if docker_required():
        return
    for marker, (what, status) in _SERVICES.items():
        marked = [item for item in items if item.get_closest_marker(marker)]
        if not marked:
            continue
        _found, reason = status()
        if reason is None:
            continue
        skip = pytest.mark.skip(
            reason=f"{what} unavailable ({reason}); set ENGINE_REQUIRE_DOCKER=1 to fail instead"
        )
        for item in marked:
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a docker- or postgres-marked test when its service is required and missing."""
    if not docker_required():
        return
    for marker, (what, status) in _SERVICES.items():
        if item.get_closest_marker(marker):
            _found, reason = status()
            if reason is not None:
                _unavailable(reason, what)


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


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database for this test module, dropped afterwards."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    admin_url, reason = _postgres_status()
    if reason is not None:
        _unavailable(reason, "PostgreSQL")
    name = f"engine_test_{secrets.token_hex(6)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
