"""The daemon's structured log lines: logfmt and JSON, one line whatever the values hold."""

from __future__ import annotations

import json
import logging

import pytest

from engine.server.operator_log import StructuredFormatter, log_config


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("engine.jobs", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_logfmt_quotes_what_could_break_the_line() -> None:
    record = _record("job %s ended", "j-1", event="job.ended", fields={
        "user": "alice", "reason": None, "path": '/v1/x"\nts=forged level=error', "n": 3})
    line = StructuredFormatter("logfmt").format(record)
    assert "\n" not in line
    assert line.startswith("ts=") and " level=info logger=engine.jobs event=job.ended " in line
    assert " user=alice " in line and " n=3 " in line and "reason=" not in line
    assert ' path="/v1/x\\"\\nts=forged level=error" ' in line
    assert line.endswith(' msg="job j-1 ended"')


def test_json_lines_carry_the_same_keys() -> None:
    record = _record("job %s queued", "j-2", event="job.queued", fields={"user": "bob"})
    line = json.loads(StructuredFormatter("json").format(record))
    assert line["event"] == "job.queued" and line["user"] == "bob"
    assert line["msg"] == "job j-2 queued" and line["level"] == "info"


def test_uvicorn_access_lines_become_fields() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/healthz", "1.1", 200), None)
    line = json.loads(StructuredFormatter("json").format(record))
    assert line["event"] == "http.access"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="logfmt, json"):
        log_config("yaml", "info")
