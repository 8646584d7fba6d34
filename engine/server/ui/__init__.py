"""The web dashboard at ``/ui``: server-rendered pages over the same service as the API.

Pages are Jinja2 templates with autoescaping, readable without JavaScript; small scripts
served from the package (``static/``, no CDN) refresh the jobs list, follow a job's event
stream and draw its chart. Signing in with a token opens a server-side session
(:mod:`~engine.server.ui.sessions`); every page acts through ``service.as_user`` for the
signed-in user (:mod:`~engine.server.ui.access`), so it shows what the API would show them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from engine.server.ui import (
    audit_pages,
    job_pages,
    login_pages,
    overview,
    program_pages,
    review_pages,
)
from engine.server.ui.headers import SecurityHeadersMiddleware
from engine.server.ui.policy import DashboardPolicy, load_dashboard_policy
from engine.server.ui.render import STATIC
from engine.server.ui.sessions import SessionStore

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install(app: FastAPI, policy: DashboardPolicy | None = None) -> None:
    """Serve the dashboard's pages and assets under ``/ui``."""
    policy = policy or load_dashboard_policy()
    app.state.ui_policy = policy
    app.state.ui_sessions = SessionStore(policy.session)
    app.mount(STATIC, StaticFiles(directory=STATIC_DIR), name="ui-static")
    for module in (login_pages, overview, job_pages, program_pages, review_pages,
                   audit_pages):
        app.include_router(module.router)
    app.add_middleware(SecurityHeadersMiddleware)
