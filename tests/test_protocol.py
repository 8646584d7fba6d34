"""The wire protocol: message models, framing and limits."""

import json

import pytest

from engine.errors import ProtocolViolation
from engine.protocol import (
    BackendRunMessage,
    ErrorMessage,
    MessageReader,
    PublishMessage,
    ReadyMessage,
    ResultMessage,
    StartMessage,
    parse_host_message,
    parse_sandbox_message,
)


def test_every_sandbox_message_round_trips():
    messages = [
        ReadyMessage(),
        BackendRunMessage(request_id="r1", circuits=["AAAA"], options={"shots": 10}),
        PublishMessage(data='{"a": 1}', final=False),
        ResultMessage(data='"done"'),
        ErrorMessage(error_type="ValueError", message="bad", traceback="tb"),
    ]
    for message in messages:
        line = message.to_line()
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert parse_sandbox_message(line) == message


def test_every_message_has_version_and_type():
    raw = json.loads(ReadyMessage().to_line())
    assert raw == {"v": 1, "type": "ready"}


@pytest.mark.parametrize(
    "line, rule",
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"type": "ready"}', "protocol version"),
        (b'{"v": 2, "type": "ready"}', "protocol version"),
        (b'{"v": 1, "type": "launch_missiles"}', "invalid"),
        (b'{"v": 1, "type": "result"}', "data"),
        (b'{"v": 1, "type": "ready", "extra": 1}', "extra"),
        (b'{"v": 1, "type": "backend_run", "request_id": "../x", "circuits": ""}', "request_id"),
        (b'{"v": 1, "type": "start", "job_id": "j"}', "invalid"),  # host-only message
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_sandbox_lines_are_violations(line, rule):
    with pytest.raises(ProtocolViolation, match=rule):
        parse_sandbox_message(line)


def test_host_messages_parse_for_the_runner():
    start = StartMessage(
        job_id="job-1",
        entry="hello_world",
        inputs="{}",
        backend={"name": "aer_simulator", "num_qubits": 5, "operations": {"cx": None}},
        limits={"max_message_bytes": 100, "max_traceback_chars": 100},
    )
    assert parse_host_message(start.to_line()) == start
    with pytest.raises(ProtocolViolation):
        parse_host_message(ReadyMessage().to_line())


def test_entry_must_be_a_module_name():
    with pytest.raises(ValueError):
        StartMessage(
            job_id="j", entry="os; rm -rf /", inputs="{}",
            backend={"name": "b", "num_qubits": 1, "operations": {}},
            limits={"max_message_bytes": 1, "max_traceback_chars": 1},
        )


def test_reader_splits_lines_across_chunks():
    reader = MessageReader(max_line_bytes=100, max_messages=10, max_total_bytes=1000)
    assert reader.feed(b'{"a"') == []
    assert reader.has_partial_line
    assert reader.feed(b': 1}\n{"b": 2}\n\n{"c"') == [b'{"a": 1}', b'{"b": 2}']
    assert reader.feed(b": 3}\n") == [b'{"c": 3}']
    assert reader.messages == 3


def test_reader_refuses_a_long_line_before_it_ends():
    reader = MessageReader(max_line_bytes=10, max_messages=10, max_total_bytes=10_000)
    reader.feed(b"12345")
    with pytest.raises(ProtocolViolation, match="longer than the limit of 10 bytes"):
        reader.feed(b"678901")


def test_reader_caps_message_count_and_total_bytes():
    reader = MessageReader(max_line_bytes=100, max_messages=2, max_total_bytes=10_000)
    with pytest.raises(ProtocolViolation, match="more than 2 messages"):
        reader.feed(b"a\nb\nc\n")
    reader = MessageReader(max_line_bytes=100, max_messages=100, max_total_bytes=10)
    with pytest.raises(ProtocolViolation, match="more than 10 bytes"):
        reader.feed(b"a\n" * 6)
