"""``RemoteRuntimeService``: the embedded service's interface, over a daemon's HTTP API.

    from engine.client import RemoteRuntimeService

    service = RemoteRuntimeService("http://127.0.0.1:8787", token)
    program_id = service.upload_program("program_source/hello_world")
    job = service.run(program_id, {"iterations": 2}, callback=print)
    print(job.result())

Methods, arguments, return types and exceptions are those of
:class:`~engine.service.RuntimeService`: the daemon answers every refusal with a problem
document naming the :mod:`engine.errors` class the embedded service raises, and the client
raises that class again (with its ``problems``, ``violations``, ``report``, ... rebuilt).
Refusals that only HTTP has raise :class:`~engine.errors.AuthenticationError` (401) or
:class:`~engine.errors.RemoteError` (413, 5xx, the daemon unreachable).

Jobs are the same :class:`RuntimeJob` as embedded, reading through this client: waiting is
a long poll (``GET /v1/jobs/{id}?wait=`` with ``If-None-Match``), so a result arrives as soon
as the daemon has it; :meth:`RuntimeJob.stream_results` follows the job's server-sent events
and, when the connection drops, reconnects with ``Last-Event-ID``, so no message is lost or
repeated.

The package, each module importing only those listed before it: ``events`` (parsing
server-sent events), ``wire`` (the daemon's documents and problems as engine objects),
``uploads`` (what an upload sends), ``remote_job`` and ``remote_service``.
"""

from __future__ import annotations

from engine.client.remote_job import RemoteRuntimeJob
from engine.client.remote_service import RemoteRuntimeService

__all__ = ["RemoteRuntimeJob", "RemoteRuntimeService"]
