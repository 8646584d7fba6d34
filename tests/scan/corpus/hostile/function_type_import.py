# expect: PE202
"""Imports CodeType directly to assemble bytecode by hand."""
from types import CodeType


def main(backend, user_messenger, **kwargs):
    return CodeType.__name__
