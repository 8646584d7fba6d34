# expect: PE106
"""A star import brings attrgetter in under its bare name, where calls go unchecked."""
from operator import *  # noqa: F403


def main(backend, user_messenger, **kwargs):
    dotted = ".".join(["__init__", "__glob" + "als__"])
    reader = attrgetter(dotted)  # noqa: F405
    return repr(reader(backend))
