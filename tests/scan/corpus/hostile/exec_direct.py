# expect: PE201
"""Runs code that arrives as a program input."""


def main(backend, user_messenger, code="", **kwargs):
    scope = {}
    exec(code, scope)
    return scope.get("result")
