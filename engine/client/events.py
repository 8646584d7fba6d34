"""Server-sent events: a job's ``text/event-stream`` parsed into events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class _Event:
    name: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


def _sse_events(lines: Iterator[str]) -> Iterator[_Event]:
    """Parse a ``text/event-stream`` into events (comments and unknown fields ignored).

    A block with only a ``retry`` field comes out as an event named ``retry``.
    """
    event, data, dispatch = _Event(), [], False
    for line in lines:
        if not line:
            if dispatch:
                event.data = "\n".join(data)
                yield event
            elif event.retry is not None:
                yield _Event(name="retry", retry=event.retry)
            event, data, dispatch = _Event(), [], False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event.name = value
        elif name == "data":
            data.append(value)
            dispatch = True
        elif name == "id" and "\x00" not in value:
            event.id = value
        elif name == "retry" and value.isdigit():
            event.retry = int(value)
