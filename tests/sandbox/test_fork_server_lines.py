"""The fork server's side of the protocol, as pure logic: its ``job_end`` message, and the
relay that copies a job's lines to the host and refuses any that starts with its mark."""

from __future__ import annotations

import os

import pytest

from engine.errors import ProtocolViolation
from engine.protocol import (
    SERVER_MARK,
    JobEndMessage,
    ResultMessage,
    parse_sandbox_message,
    parse_server_message,
)
from engine.sandbox.runner import _OutputRelay


def test_job_end_parses_only_as_the_servers_own_line() -> None:
    end = JobEndMessage(exit_code=0, cpu_seconds=0.5, max_rss_bytes=100 << 20, clean=True)
    assert parse_server_message(end.to_line()) == end
    with pytest.raises(ProtocolViolation, match="job_end"):
        parse_sandbox_message(end.to_line())  # a job cannot send it as one of its lines
    with pytest.raises(ProtocolViolation, match="clean"):
        parse_server_message(b'{"v": 1, "type": "job_end", "cpu_seconds": 0, '
                             b'"max_rss_bytes": 0}')
    with pytest.raises(ProtocolViolation, match="max_rss_bytes"):
        parse_server_message(b'{"v": 1, "type": "job_end", "cpu_seconds": 0, '
                             b'"max_rss_bytes": -1, "clean": true}')


def _relay(*chunks: bytes) -> tuple[bytes, _OutputRelay]:
    read_end, write_end = os.pipe()
    sent: list[bytes] = []
    relay = _OutputRelay(read_end, sent.append)
    for chunk in chunks:
        os.write(write_end, chunk)
        assert relay.read()
    os.close(write_end)
    assert not relay.read() and not relay.open
    relay.close()
    return b"".join(sent), relay


def test_the_jobs_lines_pass_as_they_are() -> None:
    line = ResultMessage(data='"done"').to_line()
    sent, relay = _relay(line[:10], line[10:])
    assert sent == line and not relay.violation


@pytest.mark.parametrize("chunks", [
    (SERVER_MARK + b'{"v": 1, "type": "job_end"}\n',),
    (b'{"v": 1, "type": "ready"}\n' + SERVER_MARK + b"{}\n",),
    (b'{"v": 1, "type": "ready"}\n', SERVER_MARK + b"{}\n"),
])
def test_a_line_starting_with_the_mark_is_refused(chunks: tuple[bytes, ...]) -> None:
    sent, relay = _relay(*chunks)
    assert relay.violation
    assert SERVER_MARK + b"{" not in sent


def test_an_unfinished_last_line_is_cut_off_with_the_mark() -> None:
    sent, relay = _relay(b'{"v": 1, "type": "result", "da')
    assert sent == b'{"v": 1, "type": "result", "da' + SERVER_MARK + b"\n"
    assert not relay.violation
