"""The overview's figures from job counts and ended jobs (pure logic, over a stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.records import JobStatus
from engine.server.ui.overview import figures
from engine.store.job_queries import JobTiming

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Store:
    """What :func:`figures` reads: counts by status and reason, and the jobs that ended."""

    def __init__(self, ended: list[JobTiming]) -> None:
        self.ended = ended

    def job_counts(self):
        return {(JobStatus.QUEUED, None): 4, (JobStatus.DONE, None): 7,
                (JobStatus.ERROR, "out_of_memory"): 1, (JobStatus.ERROR, "sandbox_crashed"): 2}

    def jobs_ended_since(self, when):
        return [job for job in self.ended if job.ended_at >= when]


def _ended(minutes_ago: float, wall: float | None, **metrics) -> JobTiming:
    end = NOW - timedelta(minutes=minutes_ago)
    if wall is not None:
        metrics["wall_seconds"] = wall
    return JobTiming(f"j{minutes_ago}", JobStatus.DONE, None, end - timedelta(seconds=3), end,
                     metrics)


def test_counts_rates_durations_and_starts() -> None:
    store = Store([_ended(0.5, 2.0, start_seconds=0.4, warm_start=True),
                   _ended(0.7, 4.0, start_seconds=0.6), _ended(0.9, 9.0),
                   _ended(10.2, None, start_seconds="fast"), _ended(59.5, 1.0),
                   _ended(75, 1.0)])
    found = figures(store, 60, now=NOW)
    assert found["by_status"] == {"QUEUED": 4, "RUNNING": 0, "DONE": 7, "ERROR": 3,
                                  "CANCELLED": 0}
    assert found["queued"] == 4 and found["ended"] == 5
    per_minute = dict(found["per_minute"])
    assert len(found["per_minute"]) == 60 and per_minute[0] == 3 and per_minute[-10] == 1
    assert per_minute[-59] == 1 and sum(per_minute.values()) == 5
    # One point per minute: median and longest; a job without wall_seconds by its start/end.
    assert found["durations"] == [[-59, 1.0, 1.0], [-10, 3.0, 3.0], [0, 4.0, 9.0]]
    assert found["start_median"] == 0.5 and found["start_count"] == 2
    assert found["warm_starts"] == 1
