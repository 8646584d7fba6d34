"""The daemon's ASGI application: the embedded service behind HTTP.

:func:`create_app` builds a FastAPI app whose lifespan opens one :class:`RuntimeService`
with the local executor (which recovers what a previous process left behind: RUNNING jobs
end ERROR/``engine_restarted``, their containers are removed, queued jobs run) and closes it
on shutdown: the executor stops taking queued jobs, lets running ones finish within the
service policy's ``shutdown_grace_seconds``, then cancels the rest (CANCELLED,
``engine_shutdown``). Queued jobs stay queued for the next start.

Each request acts through ``service.as_user(...)`` for the authenticated user; nothing here
decides what a user may see or change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from engine import __version__
from engine.server import (
    audit_routes,
    docs,
    job_routes,
    ops,
    problems,
    program_routes,
    review_routes,
    ui,
    user_routes,
)
from engine.server.job_feeds import FeedHub
from engine.server.limits import RateLimiter, RequestLimitMiddleware
from engine.server.metrics import HTTPMetricsMiddleware, Metrics
from engine.server.policy import ServerPolicy, load_server_policy
from engine.server.streams import StreamSlots
from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: The user the daemon's own service object is opened as; requests act as their caller.
DAEMON_USER = "program-engine"
_SETTING = "setting"

_DESCRIPTION = """\
Upload Qiskit-Runtime-style programs, run them as jobs in locked-down sandboxes, and follow
their interim results. Every `/v1` route needs `Authorization: Bearer <token>` (tokens come
from `program-engine users add NAME`). Errors are RFC 7807 `application/problem+json`.
"""


def create_app(settings: Settings | None = None, *, policy: ServerPolicy | None = None,
               executor: str | None = _SETTING) -> FastAPI:
    """The daemon's app for ``settings`` (default: the process-wide settings).

    ``executor`` is where jobs run: by default the ``executor`` setting (``local``, the
    sandboxes of this host, unless configured otherwise); ``None`` serves the API without
    running jobs (another process runs them).
    """
    settings = settings or get_settings()
    if executor == _SETTING:
        executor = getattr(settings, "executor", "local")
    policy = policy or load_server_policy()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = policy.worker_threads
        service = await to_thread.run_sync(_open, settings, executor)
        app.state.service = service
        metrics.bind(service)
        await to_thread.run_sync(_log_startup, settings, service, executor)
        pruner = _image_pruner(settings) if executor == "local" else None
        try:
            yield
        finally:
            app.state.draining.set()
            metrics.bind(None)
            if pruner is not None:
                await to_thread.run_sync(pruner.stop)
            await to_thread.run_sync(service.close)

    app = FastAPI(
        title="Program Engine",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by engine.server.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.policy = policy
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter(policy.rate_limit)
    app.state.draining = threading.Event()
    app.state.stream_slots = StreamSlots(policy)
    metrics.watch("streams", app.state.stream_slots)
    app.state.job_feeds = FeedHub(app.state)
    metrics.watch("feeds", app.state.job_feeds)
    problems.install(app)
    docs.install(app)
    app.include_router(program_routes.router)
    app.include_router(job_routes.router)
    app.include_router(review_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(user_routes.router)
    app.include_router(ops.router)
    ui.install(app)
    app.add_middleware(RequestLimitMiddleware, policy=policy)
    app.add_middleware(HTTPMetricsMiddleware, metrics=metrics)
    return app


def _log_startup(settings: Settings, service: Any, executor: str | None) -> None:
    from engine.server.operator_log import log_startup

    try:
        log_startup(settings, service, executor)
    except Exception:  # the summary informs; it never stops the daemon from serving
        log.warning("the start-up summary could not be made", exc_info=True)


def _image_pruner(settings: Settings) -> Any:
    """The periodic prune of unused program images (policies/sandbox.yaml ``images``)."""
    from engine.image_upkeep import ImagePruner, open_store
    from engine.sandbox.policy import load_sandbox_policy

    return ImagePruner(open_store(settings), load_sandbox_policy().images, settings).start()


def _open(settings: Settings, executor: str | None) -> Any:
    from engine.service import RuntimeService

    return RuntimeService(
        home=settings.home,
        user=DAEMON_USER,
        database_url=settings.database_url,
        executor=executor,
        settings=settings,
    )
