"""Tries to SIGKILL the container's PID 1, then checks that PID 1 is still there and carries on."""

import os
import signal
import time


def main(backend, user_messenger, **kwargs):
    try:
        os.kill(1, signal.SIGKILL)
    except OSError as exc:
        attempt = type(exc).__name__
    else:
        attempt = "sent"
    time.sleep(0.2)  # a delivered SIGKILL acts at once; give it time anyway
    with open("/proc/1/comm") as handle:
        pid1 = handle.read().strip()
    return {"kill": attempt, "pid1": pid1, "my_pid": os.getpid()}
