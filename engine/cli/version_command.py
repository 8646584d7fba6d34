"""``program-engine version``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version() -> None:
        """Print the engine's version."""
        from engine import __version__

        typer.echo(__version__)
