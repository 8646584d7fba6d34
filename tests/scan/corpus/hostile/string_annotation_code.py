# expect: PE204
"""Puts code in a string annotation, which typing evaluates on request."""
import typing


def probe(counts: "__import__('os').system('id')") -> None:
    return None


def main(backend, user_messenger, **kwargs):
    return str(typing.get_type_hints(probe))
