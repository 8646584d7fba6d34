"""The daemon's log for its operator: one structured line per record, a start-up summary, and
a line per job event and per refused request.

Every line of ``program-engine serve`` (uvicorn's included) is written by
:class:`StructuredFormatter` in the ``log_format`` setting's form:

- ``logfmt``: ``ts=... level=info event=job.ended job=... user=alice status=DONE ...``, values
  with a blank, a quote, ``=`` or a control character quoted and escaped as JSON strings;
- ``json``: one JSON object per line with the same keys.

Events: ``serve.started`` (the summary: store URL with its password hidden, executor, users,
Docker version or why it cannot be reached, OCI runtime, runtime image id), ``job.queued``,
``job.running``, ``job.ended`` (:mod:`engine.job_log`), ``auth.refused`` (401),
``request.limited`` (429), ``request.refused`` (every other 4xx), ``http.access`` (uvicorn's
access log) and ``log`` for everything else. Refusals name the user when the token was
valid, never the token. Values come from requests and programs, so each is escaped: no value
can start a line of its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import Scope

from engine import __version__

FORMATS = ("logfmt", "json")
#: Attributes every ``LogRecord`` has; anything else set through ``extra=`` is a field.
_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                  "-_./:@+,*<>()[]#%")

refusals = logging.getLogger("engine.server.refusals")
summary = logging.getLogger("engine.server.summary")


class StructuredFormatter(logging.Formatter):
    """A record as one ``logfmt`` or JSON line: time, level, event, message, fields."""

    def __init__(self, style_name: str = "logfmt") -> None:
        if style_name not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}, "
                             f"got {style_name!r}")
        super().__init__()
        self.style_name = style_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or _event_of(record),
        }
        line.update(_fields_of(record))
        line["msg"] = record.getMessage()
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if self.style_name == "json":
            return json.dumps(line, default=str)
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in line.items()
                        if value is not None)


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _event_of(record: logging.LogRecord) -> str:
    return "http.access" if record.name == "uvicorn.access" else "log"


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    if isinstance(fields, Mapping):
        return dict(fields)
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, _version, status = args
        return {"client": client, "method": method, "path": path, "status": status}
    return {}


def _logfmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if text and all(char in _BARE for char in text):
        return text
    return json.dumps(text)


def log_config(style_name: str, level: str) -> dict[str, Any]:
    """uvicorn's ``log_config``: every logger (the engine's, uvicorn's, its access log)
    through one stderr handler with :class:`StructuredFormatter`. The engine and uvicorn log
    at ``level``; other libraries (Qiskit's passes at INFO) only from WARNING up, unless
    ``level`` is debug or stricter than WARNING."""
    StructuredFormatter(style_name)  # refuses an unknown format before uvicorn starts
    upper = level.upper() if level != "trace" else "DEBUG"
    others = upper if upper in ("DEBUG", "ERROR", "CRITICAL") else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": StructuredFormatter, "style_name": style_name}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "structured",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "engine": {"level": upper},
        },
        "root": {"handlers": ["stderr"], "level": others},
    }


# --- refusals ----------------------------------------------------------------------------------


def refused(scope: Scope, status: int, problem: str, **fields: Any) -> None:
    """Log a refused request (status 400 to 499): who (when known), what, and why."""
    if not 400 <= status < 500 or not refusals.isEnabledFor(logging.INFO):
        return
    state = scope.get("state") or {}
    client = scope.get("client")
    event = ("auth.refused" if status == 401 else
             "request.limited" if status == 429 else "request.refused")
    line = {
        "user": state.get("user"),
        "status": status,
        "problem": problem,
        "method": scope.get("method"),
        "path": scope.get("path"),
        "client": client[0] if client else None,
        "request_id": state.get("request_id"),
        "reason": state.get("auth_refusal") if status == 401 else None,
        **fields,
    }
    refusals.info("%s %s refused with %d (%s)", line["method"], line["path"], status, problem,
                  extra={"event": event, "fields": line})


# --- the start-up summary ----------------------------------------------------------------------


def startup_summary(settings: Any, service: Any, executor: str | None) -> dict[str, Any]:
    """What the daemon runs with: store, executor, users, Docker, OCI runtime, runtime image.

    Docker that cannot be reached is reported, not raised: the daemon still serves its API.
    """
    fields: dict[str, Any] = {
        "version": __version__,
        "listen": f"{settings.host}:{settings.port}",
        "store": service.store_url,
        "executor": executor or "none",
        "users": len(service.accounts.list()),
    }
    fields.update(_docker_facts(settings))
    return fields


def _docker_facts(settings: Any) -> dict[str, Any]:
    from engine.errors import EngineError
    from engine.sandbox.docker_client import shared_client

    try:
        client = shared_client()
        version = client.version()
        info = client.info()
    except EngineError as exc:
        return {"docker": "unreachable", "docker_error": str(exc).split(";")[0]}
    except Exception as exc:  # an answer that is not what Docker's API promises
        return {"docker": "unreachable", "docker_error": f"{type(exc).__name__}: {exc}"}
    facts: dict[str, Any] = {
        "docker": version.get("Version"),
        "docker_api": version.get("ApiVersion"),
        "oci_runtime": settings.sandbox_runtime or _profile_runtime()
        or info.get("DefaultRuntime"),
    }
    facts["runtime_image"] = _runtime_image(client)
    return facts


def _profile_runtime() -> str | None:
    from engine.sandbox.policy import load_sandbox_policy

    return load_sandbox_policy().profile().runtime


def _runtime_image(client: Any) -> str:
    """The id of the runtime image the current sources call for, or why there is none."""
    from engine.errors import EngineError
    from engine.sandbox.images import current_runtime_image, existing_image

    try:
        recipe = current_runtime_image(client)
        image = None if recipe is None else existing_image(client, recipe.tag,
                                                           recipe.content_hash)
    except EngineError as exc:
        return f"unknown ({exc})"
    if image is None:
        return "not built (program-engine images build)"
    return str(image.id)


def log_startup(settings: Any, service: Any, executor: str | None) -> None:
    """Write the ``serve.started`` line."""
    if summary.isEnabledFor(logging.INFO):
        fields = startup_summary(settings, service, executor)
        summary.info("program-engine %s serving on %s", fields["version"], fields["listen"],
                     extra={"event": "serve.started", "fields": fields})
