# expect: PE503
"""Reads stdin, which carries the engine's protocol."""


def main(backend, user_messenger, **kwargs):
    return input()
