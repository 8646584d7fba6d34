"""Choosing the executor: by argument or by setting; the Ray one needs its address.

No Ray cluster is started here (see ``test_ray.py`` for that).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import ConfigurationError
from engine.executors.local import LocalExecutor
from engine.executors.ray_executor import RayExecutor
from engine.service import RuntimeService
from engine.settings import Settings

pytestmark = pytest.mark.docker  # opening a service reaps orphaned sandboxes first


def test_the_ray_executor_needs_an_address(tmp_path) -> None:
    settings = Settings(home=tmp_path, executor="ray")
    with pytest.raises(ConfigurationError, match="ray_address"):
        RuntimeService(home=tmp_path, settings=settings)


def test_the_setting_chooses_the_executor(tmp_path) -> None:
    with RuntimeService(home=tmp_path, settings=Settings(home=tmp_path)) as service:
        assert isinstance(service._core.executor, LocalExecutor)
        assert not isinstance(service._core.executor, RayExecutor)


def test_an_unknown_executor_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("ENGINE_EXECUTOR", "kubernetes")
    with pytest.raises(ValidationError, match="executor"):
        Settings()
    monkeypatch.setenv("ENGINE_EXECUTOR", "ray")
    monkeypatch.setenv("ENGINE_RAY_ADDRESS", "10.0.0.1:6379")
    settings = Settings()
    assert (settings.executor, settings.ray_address) == ("ray", "10.0.0.1:6379")
