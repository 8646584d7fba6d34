"""``/metrics``: the daemon's Prometheus metrics, in one registry per app.

- ``program_engine_jobs{status,reason}``: jobs in the store, counted at each scrape;
- ``program_engine_job_duration_seconds{status}``: wall time of jobs that ended while this
  process ran (from the job's ``wall_seconds`` metric, else its start and end times);
- ``program_engine_sandbox_start_seconds``: from container start to the runner's ready
  message (the job's ``start_seconds`` metric);
- ``program_engine_scanner_rejections_total``: uploads the static review rejected;
- ``program_engine_http_requests_total{method,route,status}`` and
  ``program_engine_http_request_duration_seconds{method,route}``: by route template, so ids
  do not multiply the series;
- ``program_engine_connections_open``, ``program_engine_connections_refused_total``,
  ``program_engine_event_streams_open`` and ``program_engine_log_records_suppressed_total``:
  the client bounds at work (the log says little under a flood, by design);
- ``program_engine_event_stream_reads_total``: store reads made for event streams, one per
  change (or polling slice) of a followed job however many streams follow it, plus one per
  stream joining behind the others.

No series carries a user name, a program id or a job id.

Finished jobs are read from the store at scrape time (whoever ran them), a little before the
last one seen, and de-duplicated by id, so a job that committed late is still counted once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))
_START_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, float("inf"))
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                 float("inf"))
# How far before the newest end time seen each scrape looks again (late commits).
_OVERLAP = timedelta(seconds=30)


class _JobCounts(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("program_engine_jobs", "Jobs in the store by status and "
                                   "reason.", labels=["status", "reason"])
        service = self.metrics.service
        if service is None:
            return
        counts = service.job_counts()
        for (status, reason), count in sorted(counts.items(), key=lambda kv: (kv[0][0],
                                                                               kv[0][1] or "")):
            family.add_metric([status.value, reason or ""], count)
        yield family


class _Bounds(Collector):
    """The client bounds' counts, read at scrape time from whatever :class:`Metrics` watches."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        watched = self.metrics.watched
        rows = (
            ("connections", GaugeMetricFamily, "program_engine_connections_open",
             "Open HTTP connections (admitted).", "total"),
            ("connections", CounterMetricFamily, "program_engine_connections_refused",
             "Connections refused with 503 at a connection cap.", "refused"),
            ("streams", GaugeMetricFamily, "program_engine_event_streams_open",
             "Open event streams.", "total"),
            ("feeds", CounterMetricFamily, "program_engine_event_stream_reads",
             "Store reads of jobs' new messages for event streams (one per change of a "
             "followed job, plus one per stream joining behind).", "reads"),
            ("log", CounterMetricFamily, "program_engine_log_records_suppressed",
             "Warnings and errors left out of the log by its rate limit.", "suppressed_total"),
        )
        for source, family, name, text, attribute in rows:
            watched_object = watched.get(source)
            if watched_object is not None:
                yield family(name, text, value=getattr(watched_object, attribute))


class Metrics:
    """The registry of one app and the metrics the routes update.

    The service is bound when the app starts (:meth:`bind`); until then only the HTTP and
    upload metrics have values.
    """

    def __init__(self) -> None:
        self.service: Any = None
        self.registry = CollectorRegistry()
        self.registry.register(_JobCounts(self))
        self.watched: dict[str, object] = {}
        self.registry.register(_Bounds(self))
        self.scanner_rejections = Counter(
            "program_engine_scanner_rejections", "Uploads rejected by the static review.",
            registry=self.registry)
        self.job_duration = Histogram(
            "program_engine_job_duration_seconds", "Wall time of finished jobs.", ["status"],
            buckets=_JOB_BUCKETS, registry=self.registry)
        self.sandbox_start = Histogram(
            "program_engine_sandbox_start_seconds",
            "Sandbox start latency: container start to the runner's ready message.",
            buckets=_START_BUCKETS, registry=self.registry)
        self.http_requests = Counter(
            "program_engine_http_requests", "HTTP requests.", ["method", "route", "status"],
            registry=self.registry)
        self.http_duration = Histogram(
            "program_engine_http_request_duration_seconds", "HTTP request duration.",
            ["method", "route"], buckets=_HTTP_BUCKETS, registry=self.registry)
        self._cursor: datetime = datetime.now(UTC)
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def bind(self, service: Any) -> None:
        """Read job counts and finished jobs through ``service`` (``None``: stop reading)."""
        self.service = service

    def watch(self, source: str, counted: object) -> None:
        """Report ``counted``'s figures: ``connections`` (a ``ConnectionGuard``), ``streams``
        (``StreamSlots``), ``feeds`` (``FeedHub``) or ``log`` (the log's
        ``RateLimitFilter``)."""
        self.watched[source] = counted

    def render(self) -> bytes:
        """The text exposition format, after taking in the jobs that ended since last time."""
        self._observe_finished_jobs()
        return generate_latest(self.registry)

    def _observe_finished_jobs(self) -> None:
        service = self.service
        if service is None:
            return
        with self._lock:
            finished = service.jobs_ended_since(self._cursor - _OVERLAP)
            for job in finished:
                if job.id in self._seen:
                    continue
                self._seen[job.id] = job.ended_at
                self._cursor = max(self._cursor, job.ended_at)
                wall = job.metrics.get("wall_seconds")
                if not isinstance(wall, (int, float)) and job.started_at is not None:
                    wall = (job.ended_at - job.started_at).total_seconds()
                if isinstance(wall, (int, float)) and wall >= 0:
                    self.job_duration.labels(job.status.value).observe(wall)
                start = job.metrics.get("start_seconds")
                if isinstance(start, (int, float)) and start >= 0:
                    self.sandbox_start.observe(start)
            horizon = self._cursor - _OVERLAP
            self._seen = {job_id: ended for job_id, ended in self._seen.items()
                          if ended >= horizon}


class HTTPMetricsMiddleware:
    """Counts every request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_duration.labels(method, template).observe(
                time.perf_counter() - started)
