# expect: PE103
"""Reaches into the modules next to the program at run time."""
from .. import runner


def main(backend, user_messenger, **kwargs):
    return runner.__name__
