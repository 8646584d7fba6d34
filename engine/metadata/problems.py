"""Where a metadata problem is and how it reads: locations, JSON paths, bounded quotes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _format_location(path: tuple[Any, ...] | list[Any]) -> str:
    """``("spec", "parameters", "properties", "x")`` -> ``spec.parameters.properties.x``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(_short(part, 80))}]"
    return text


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _problem_text(title: str, problems: list[tuple[str, str]]) -> str:
    count = len(problems)
    lines = "\n".join(f"  {location or '(root)'}: {message}" for location, message in problems)
    return f"{title} ({count} problem{'s' if count != 1 else ''}):\n{lines}"


def _path_key(path: Any) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and "$" not in part:
            text += f".{part}"
        else:
            text += f"[{json.dumps(_short(part, 80))}]"
    return text


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."
