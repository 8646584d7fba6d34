"""One log record per change of a job's state, for the operator: queued, running, ended.

The records go to the ``engine.jobs`` logger at INFO, each with an ``event`` name
(``job.queued``, ``job.running``, ``job.ended``) and ``fields`` (the job, its user, program
and backend; at the end its status, reason and error type). The daemon writes them as
structured lines (:mod:`engine.server.operator_log`); an embedding application sees ordinary
log records it can route as it likes. Nothing here names a token, an input or a result.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.records import JobRecord

log = logging.getLogger("engine.jobs")


def _emit(event: str, record: JobRecord, message: str, **extra: Any) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "job": record.id, "user": record.owner, "program": record.program_id,
        "version": record.program_version, "backend": record.backend, **extra,
    }
    log.info(message, record.id, extra={"event": event, "fields": fields})


def queued(record: JobRecord) -> None:
    """A job was stored QUEUED."""
    _emit("job.queued", record, "job %s queued")


def running(record: JobRecord) -> None:
    """An executor claimed a job: it is RUNNING."""
    _emit("job.running", record, "job %s running", worker=record.claimed_by)


def ended(record: JobRecord) -> None:
    """A job reached its final state."""
    wall = (record.metrics or {}).get("wall_seconds")
    _emit("job.ended", record, "job %s ended", status=record.status.value,
          reason=record.reason, error=record.error_type, seconds=wall)
