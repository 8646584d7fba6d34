"""How the CLI prints tables: full rows even when stdout is a pipe, times in local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.cli.output import console


def print_table(table: Any) -> None:
    """Print a rich table on stdout; on a pipe, at its natural width, so no cell wraps.

    On a terminal the table fits the window as rich arranges it; into a pipe or a file it
    would otherwise be squeezed to 80 columns, breaking ids across lines for ``grep``.
    """
    if console.is_terminal:
        console.print(table)
        return
    from rich.console import Console
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    wide = Console(width=max(console.width, natural), highlight=False)
    wide.print(table)


def local_time(moment: datetime) -> str:
    """``moment`` in this machine's time zone as ``YYYY-MM-DD HH:MM:SS`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
