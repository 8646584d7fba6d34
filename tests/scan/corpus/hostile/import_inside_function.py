# expect: PE101
"""Imports subprocess only when main runs, hoping a top-level check misses it."""


def main(backend, user_messenger, **kwargs):
    import subprocess

    return subprocess.check_output(["id"]).decode()
