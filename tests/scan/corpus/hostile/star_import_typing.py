# expect: PE106
"""typing's star import includes get_type_hints, which evaluates annotations."""
from typing import *  # noqa: F403


class Settings:
    shots: "int"


def main(backend, user_messenger, **kwargs):
    Settings.__annotations__["shots"] = kwargs.get("annotation", "int")
    return str(get_type_hints(Settings))  # noqa: F405
