# expect: PE301
"""Reads the builtins out of a function's globals."""


def main(backend, user_messenger, **kwargs):
    namespace = main.__globals__
    return namespace["__builtins__"]
