# expect: PE404
"""Passes getattr around, so that its calls are made by other code."""
import functools


def main(backend, user_messenger, **kwargs):
    reach = functools.partial(getattr, backend)
    return [reach(name) for name in kwargs]
