"""Rendering pages: one Jinja2 environment with autoescaping on for every template.

Everything a template prints is escaped unless it is explicitly marked safe, and no template
does that with data: program names, descriptions, metadata, logs, interim values and results
are shown as text. Values go to scripts only in ``data-*`` attributes (single-quoted JSON
from ``tojson``, which escapes ``<``, ``>``, ``&`` and ``'``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from engine import __version__

STATIC = "/ui/static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The templates shipped in ``engine/server/ui/templates``, autoescaped."""
    env = Environment(loader=PackageLoader("engine.server.ui", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pretty"] = pretty_json
    env.filters["when"] = when
    env.filters["cut"] = cut
    env.globals.update(static=STATIC, version=__version__)
    return env


def render(request: Request, template: str, context: dict[str, Any],
           status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """``template`` rendered with ``context`` (plus the request and its viewer, if any)."""
    page = environment().get_template(template).render(
        request=request, viewer=getattr(request.state, "viewer", None), **context)
    return HTMLResponse(page, status_code=status, headers=headers)


def cut(text: Any, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, saying how much was left out."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"


def pretty_json(value: Any, limit: int = 200_000) -> str:
    """A JSON value indented for reading (cut at ``limit`` characters)."""
    return cut(json.dumps(value, indent=2, ensure_ascii=False, default=str), limit)


def when(value: datetime | str | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS UTC`` (empty when there is none)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")
