"""``program-engine serve``: settings from a config file, the environment and the flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engine.errors import ConfigurationError
from engine.settings import CONFIG_ENV, Settings, read_config_file
from tests.server.conftest import free_port

CLI = Path(sys.executable).with_name("program-engine")


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("ENGINE_")}


def _serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(CLI), "serve", "--log-level", "warning", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _answers(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a drained daemon exits cleanly


def test_serve_reads_a_config_file_and_flags_win(tmp_path: Path) -> None:
    home, config_port, flag_port = tmp_path / "home", free_port(), free_port()
    config = tmp_path / "engine.yaml"
    config.write_text(f"home: {home}\nport: {config_port}\nhost: 127.0.0.1\n")
    process = _serve(["--config", str(config)], _env())
    try:
        assert _answers(config_port, process), process.stdout.read().decode()
        assert (home / "engine.db").exists()
    finally:
        _stop(process)
    process = _serve(["--config", str(config), "--port", str(flag_port)], _env())
    try:
        assert _answers(flag_port, process)
    finally:
        _stop(process)


def test_a_bad_config_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("prot: 9000\n")
    done = subprocess.run([str(CLI), "serve", "--config", str(config)], env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown setting(s) prot" in done.stderr
    config.write_text("port: 99999\n")
    done = subprocess.run([str(CLI), "serve", "--config", str(config)], env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "port" in done.stderr


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text('{"port": 9001, "host": "0.0.0.0"}')  # JSON is YAML too
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.delenv("ENGINE_PORT", raising=False)
    monkeypatch.delenv("ENGINE_HOST", raising=False)
    assert (Settings().port, Settings().host) == (9001, "0.0.0.0")
    monkeypatch.setenv("ENGINE_PORT", "9002")
    assert Settings().port == 9002  # the environment over the file
    assert Settings(port=9003).port == 9003  # arguments over the environment
    monkeypatch.delenv(CONFIG_ENV)
    monkeypatch.delenv("ENGINE_PORT")
    assert (Settings().port, Settings().host) == (8787, "127.0.0.1")


def test_config_files_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    for text, message in (("- a list\n", "mapping"), ("port: [\n", "not valid YAML"),
                          ("hme: /x\n", "unknown setting")):
        path.write_text(text)
        with pytest.raises(ConfigurationError, match=message):
            read_config_file(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_config_file(tmp_path / "missing.yaml")
