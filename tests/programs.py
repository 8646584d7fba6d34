"""Small programs the end-to-end tests run, shared so each is written once."""

from __future__ import annotations

import textwrap

# Publishes once, then sleeps ``seconds`` (default 60): for cancel, time-limit, queue and
# crash tests that need a job to be RUNNING for a while.
SLEEPER = textwrap.dedent(
    """
    import time

    def main(backend, user_messenger, **kwargs):
        user_messenger.publish({"started": True})
        time.sleep(kwargs.get("seconds", 60))
        return "slept"
    """
)
SLEEPER_METADATA = {
    "name": "sleeper",
    "description": "Sleeps.",
    "max_execution_time": 120,
    "spec": {
        "parameters": {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "properties": {"seconds": {"type": "number", "minimum": 0}},
        }
    },
}

# Prints a line, publishes, and waits for ``seconds`` before printing the last line: for
# tests that read a job's logs while it runs.
TALKER = textwrap.dedent(
    """
    import time

    def main(backend, user_messenger, **kwargs):
        print("first line", flush=True)
        user_messenger.publish({"printed": 1})
        time.sleep(kwargs.get("seconds", 5))
        print("last line", flush=True)
        return "talked"
    """
)
TALKER_METADATA = {
    "name": "talker",
    "description": "Prints while it runs.",
    "max_execution_time": 120,
}
