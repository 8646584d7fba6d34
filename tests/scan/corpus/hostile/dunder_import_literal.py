# expect: PE104
"""Imports os through __import__ with a literal name."""


def main(backend, user_messenger, **kwargs):
    return __import__("os").getcwd()
