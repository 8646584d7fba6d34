# expect: PE101
"""Reaches exec through the builtins module."""
import builtins


def main(backend, user_messenger, **kwargs):
    builtins.exec("result = 42")
    return "ok"
