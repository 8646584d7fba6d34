"""Operations: liveness, readiness, metrics, and who-am-I / backends for clients.

``/healthz`` answers while the process serves requests. ``/readyz`` checks that the store
answers a query and Docker answers a ping and lists every sandbox runtime the profiles name
(``runsc``), each within ``readiness_timeout_seconds``, and is
503 (problem+json listing the failed checks) otherwise, or while shutting down. ``/metrics``
is the Prometheus text format. These three need no token (keep them off the public side of a
reverse proxy if that matters).
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request, Response

from engine.server.auth import CurrentUser, Service
from engine.server.metrics import CONTENT_TYPE
from engine.server.problems import Problem, openapi_responses
from engine.server.schemas import BackendList, WhoAmI

router = APIRouter()


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Served on the event loop, never in a worker thread, so
    that busy workers (hundreds of streams being authenticated) do not delay it."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses=openapi_responses(503))
async def readyz(request: Request) -> Any:
    """Readiness: the store and Docker answer, and the daemon is not shutting down."""
    state = request.app.state
    checks: dict[str, str] = {}
    timeout = state.policy.readiness_timeout_seconds

    def store() -> None:
        state.service.ping()

    def docker() -> None:
        from engine.sandbox.docker_client import shared_client
        from engine.sandbox.runtimes import check_configured_runtimes

        shared_client().ping()
        check_configured_runtimes(shared_client())

    for name, check in (("store", store), ("docker", docker)):
        try:
            with anyio.fail_after(timeout):
                await to_thread.run_sync(check, abandon_on_cancel=True)
            checks[name] = "ok"
        except TimeoutError:
            checks[name] = f"no answer within {timeout:g} s"
        except Exception as exc:
            checks[name] = f"failed: {exc}"
    if state.draining.is_set():
        checks["serving"] = "shutting down"
    failed = {name: result for name, result in checks.items() if result != "ok"}
    if failed:
        listed = "; ".join(f"{name}: {result}" for name, result in failed.items())
        return Problem(503, "not-ready", "Not ready", listed, {"checks": checks}).response()
    return {"status": "ready", "checks": checks}


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (text exposition format)."""
    body = await to_thread.run_sync(request.app.state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


@router.get("/v1/whoami", tags=["users"], response_model=WhoAmI,
            responses=openapi_responses(401, 429))
def whoami(user: CurrentUser) -> dict[str, Any]:
    """The user the token belongs to."""
    return {"name": user.name, "is_admin": user.is_admin}


@router.get("/v1/backends", tags=["jobs"], response_model=BackendList,
            responses=openapi_responses(401, 429))
def backends(service: Service) -> dict[str, Any]:
    """The configured backends (``fake_<N>q`` devices are accepted as well)."""
    return {"backends": [backend.model_dump() for backend in service.backends()]}
