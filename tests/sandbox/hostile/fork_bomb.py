"""Forks without end: every process forks again until the pids limit says no."""

import os


def main(backend, user_messenger, **kwargs):
    while True:
        os.fork()
