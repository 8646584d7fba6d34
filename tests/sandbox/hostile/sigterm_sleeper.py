"""Ignores SIGTERM (and SIGINT) and sleeps in a loop for ever."""

import signal
import time


def main(backend, user_messenger, **kwargs):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        time.sleep(0.1)
