# expect: PE201
"""Hands exec out of a lambda so that no call names it."""
factory = lambda: exec  # noqa: E731


def main(backend, user_messenger, **kwargs):
    factory()("import math")
    return "ok"
