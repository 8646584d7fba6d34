"""``UserMessenger``: how a program publishes interim (and, optionally, final) results."""

from __future__ import annotations

import json
from typing import Any

from engine.serialization import RuntimeDecoder, RuntimeEncoder


class UserMessenger:
    """Publishes messages to the program's user.

    Run locally, as in the original service's testing recipe, a published message is printed
    as the JSON the user would receive. In the sandbox the runner substitutes a messenger that
    sends it over the protocol instead.
    """

    def publish(
        self,
        message: Any,
        encoder: type[json.JSONEncoder] = RuntimeEncoder,
        final: bool = False,
    ) -> None:
        """Publish ``message``; ``final=True`` marks it as the program's final result."""
        print(json.dumps(message, cls=encoder))


class CollectingMessenger(UserMessenger):
    """A messenger for tests: keeps every message as the user would decode it.

    Each message makes the same round trip it would make through the service (encoded with the
    given encoder, decoded with ``RuntimeDecoder``), so a test sees what a user would see.
    """

    def __init__(self, echo: bool = False) -> None:
        self.messages: list[Any] = []
        self.final_messages: list[Any] = []
        self._echo = echo

    def publish(
        self,
        message: Any,
        encoder: type[json.JSONEncoder] = RuntimeEncoder,
        final: bool = False,
    ) -> None:
        text = json.dumps(message, cls=encoder)
        if self._echo:
            print(text)
        decoded = json.loads(text, cls=RuntimeDecoder)
        (self.final_messages if final else self.messages).append(decoded)
