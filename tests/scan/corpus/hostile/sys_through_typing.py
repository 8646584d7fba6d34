# expect: PE305
"""Reaches sys through an allowed module that imported it."""
import typing


def main(backend, user_messenger, **kwargs):
    return typing.sys.modules["os"].getcwd()
