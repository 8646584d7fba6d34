"""The standalone daemon: ``program-engine serve``, an HTTP API in front of the service.

    from engine.server import create_app      # the ASGI app (FastAPI)
    from engine.server.serving import serve   # run it with uvicorn, shutting down gracefully
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engine.server.app import create_app

        return create_app
    raise AttributeError(f"module 'engine.server' has no attribute {name!r}")
