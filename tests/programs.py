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
