"""Running the app with uvicorn, and shutting it down gracefully on SIGTERM or SIGINT.

On the first signal the app is marked draining at once: open event streams end (clients
reconnect later), long polls return, ``/readyz`` turns 503. uvicorn then stops accepting
connections, gives open requests ``drain_seconds`` to finish, and runs the app's lifespan
shutdown, which stops the job service gracefully (see :mod:`engine.server.app`). After that
drain a SIGTERM is a normal end: the process exits 0 (uvicorn would raise the signal again
and die of it).

Connections are served by :class:`~engine.server.protocol.BoundedH11Protocol`, which bounds
slow and too many clients (``connections`` in ``policies/server.yaml``); warnings and errors
are rate-limited (:mod:`engine.server.log_limits`). Every log line is structured, in the
``log_format`` setting's form (:mod:`engine.server.operator_log`).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import uvicorn

from engine.server import log_limits, operator_log
from engine.server.app import create_app
from engine.server.connections import ConnectionGuard, connection_budget
from engine.server.policy import load_server_policy
from engine.server.protocol import bounded_protocol
from engine.settings import Settings


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, draining: threading.Event) -> None:
        super().__init__(config)
        self.draining = draining

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.draining.set()
        super().handle_exit(sig, frame)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """Installed while serving: uvicorn raises SIGTERM again once its shutdown is done."""
    raise SystemExit(0)


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Serve the API on ``settings.host:settings.port`` until a signal stops it."""
    policy = load_server_policy()
    limits = policy.connections
    budget = connection_budget(limits)
    guard = ConnectionGuard(budget)
    app = create_app(settings, policy=policy)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=bounded_protocol(guard, limits),
        backlog=budget.accept_backlog,
        ws="none",
        lifespan="on",
        log_level=log_level,
        log_config=operator_log.log_config(settings.log_format, log_level),
        timeout_keep_alive=limits.keep_alive_seconds,  # type: ignore[arg-type]
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_graceful_shutdown=policy.drain_seconds,  # type: ignore[arg-type]
        server_header=False,
    )
    # After uvicorn has configured its loggers.
    app.state.metrics.watch("log", log_limits.install(policy.log_rate_limit))
    app.state.metrics.watch("connections", guard)
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        _DrainingServer(config, app.state.draining).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
