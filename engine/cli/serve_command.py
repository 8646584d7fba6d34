"""``program-engine serve``: run the HTTP daemon.

Configuration is the engine's one settings object: defaults, then a config file
(``--config FILE`` or ``$ENGINE_CONFIG``: YAML or JSON with setting names as keys), then
``ENGINE_*`` environment variables, then the flags here. The flags are applied by setting
the matching ``ENGINE_*`` variables in this process, so every part of the engine sees the
same values. SIGTERM or SIGINT shuts down gracefully (see :mod:`engine.server.serving`).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.output import error_console

HomeOption = Annotated[Path | None, typer.Option(
    "--home", help="State folder (default: $ENGINE_HOME or ~/.local/share/program-engine).",
    file_okay=False, show_default=False)]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL of the store (default: SQLite under the home).",
    show_default=False)]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="A YAML or JSON file of settings (default: $ENGINE_CONFIG).",
    dir_okay=False, show_default=False)]


class LogLevel(StrEnum):
    """uvicorn's log levels."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


class LogFormat(StrEnum):
    """How each line of the daemon's log is written."""

    logfmt = "logfmt"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def load_settings(config: Path | None = None, **flags: Any) -> Any:
    """The process-wide settings with ``config`` and the given flags (``None``: not given)
    applied; exits 2 with a one-line message when they are invalid."""
    from pydantic import ValidationError

    from engine.errors import ConfigurationError
    from engine.settings import CONFIG_ENV, get_settings

    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    for name, value in flags.items():
        if value is not None:
            os.environ[f"ENGINE_{name.upper()}"] = str(value)
    get_settings.cache_clear()
    try:
        return get_settings()
    except ConfigurationError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        _fail(f"setting {key}: {first['msg']}")


def _fail(message: str) -> None:
    error_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def serve(
    host: Annotated[str | None, typer.Option(
        help="Address to listen on (default: 127.0.0.1).", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="Port to listen on (default: 8787).", show_default=False)] = None,
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
    log_level: Annotated[LogLevel, typer.Option(help="uvicorn's log level.")] = LogLevel.info,
    log_format: Annotated[LogFormat | None, typer.Option(
        help="Log lines as key=value (logfmt) or JSON objects (default: $ENGINE_LOG_FORMAT "
        "or logfmt).", show_default=False)] = None,
    executor: Annotated[str | None, typer.Option(
        help="Where jobs run: local or ray (default: $ENGINE_EXECUTOR or local).",
        show_default=False)] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="HOST:PORT of the Ray cluster's head, for --executor ray "
        "(default: $ENGINE_RAY_ADDRESS).", show_default=False)] = None,
) -> None:
    """Run the HTTP API (docs at /docs) until SIGTERM or Ctrl-C."""
    settings = load_settings(config, host=host, port=port, home=home,
                             database_url=database_url, executor=executor,
                             ray_address=ray_address,
                             log_format=log_format.value if log_format else None)
    from engine.errors import EngineError
    from engine.server.serving import serve as run_server

    try:
        run_server(settings, log_level=log_level.value)
    except EngineError as exc:
        _fail(str(exc))
