"""Where the CLI writes: results and data on stdout, progress and diagnostics on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Write ``data`` as one JSON document on stdout (for scripts: no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()
