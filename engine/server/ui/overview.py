"""``/ui``: the overview. Jobs by status, queue depth, jobs ended per minute and their
median duration per minute over the last hour (charts), sandbox start time and warm starts.

These are the service-wide figures ``/metrics`` already publishes (counts and timings, no
job, program or user named), read through the daemon's service the way ``/metrics`` reads
them; the viewer's own jobs are one click away on the jobs page.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.records import JobStatus
from engine.server.ui.access import CurrentViewer, PageRoute
from engine.server.ui.render import render

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def figures(service: Any, minutes: int, now: datetime | None = None) -> dict[str, Any]:
    """The overview's figures from the daemon's ``service`` over the last ``minutes``."""
    now = now or datetime.now(UTC)
    by_status = dict.fromkeys((status.value for status in JobStatus), 0)
    for (status, _reason), count in service.job_counts().items():
        by_status[status.value] += count
    ended = service.jobs_ended_since(now - timedelta(minutes=minutes))
    per_minute = [0] * minutes
    walls: list[list[float]] = [[] for _ in range(minutes)]
    starts: list[float] = []
    warm = 0
    for job in ended:
        minute = min(minutes - 1, max(0, int((now - job.ended_at).total_seconds() // 60)))
        per_minute[minute] += 1
        wall = _number(job.metrics.get("wall_seconds"))
        if wall is None and job.started_at is not None:
            wall = _number((job.ended_at - job.started_at).total_seconds())
        if wall is not None:
            walls[minute].append(wall)
        start = _number(job.metrics.get("start_seconds"))
        if start is not None:
            starts.append(start)
        warm += job.metrics.get("warm_start") is True
    # One point per minute (median and longest), so the page stays small however many ended.
    durations = [[-minute, round(statistics.median(found), 3), round(max(found), 3)]
                 for minute, found in reversed(list(enumerate(walls))) if found]
    return {
        "by_status": by_status,
        "queued": by_status[JobStatus.QUEUED.value],
        "running": by_status[JobStatus.RUNNING.value],
        "ended": len(ended),
        "per_minute": [[-(minutes - 1 - i), per_minute[minutes - 1 - i]]
                       for i in range(minutes)],
        "durations": durations,
        "start_median": statistics.median(starts) if starts else None,
        "start_max": max(starts) if starts else None,
        "start_count": len(starts),
        "warm_starts": warm,
        "minutes": minutes,
    }


def _warm_pool_size() -> int:
    from engine.sandbox.policy import load_sandbox_policy

    return load_sandbox_policy().warm_pool_size


@router.get("")
async def overview(request: Request, viewer: CurrentViewer) -> Response:
    """Service-wide job figures and charts."""
    state = request.app.state
    data = await to_thread.run_sync(figures, state.service, state.ui_policy.overview_minutes)
    data["running_here"] = len(state.service.running_jobs())
    data["warm_pool_size"] = await to_thread.run_sync(_warm_pool_size)
    return render(request, "overview.html", data)
