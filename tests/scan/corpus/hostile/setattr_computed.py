# expect: PE401
"""Overwrites an attribute whose name is an input."""


class Settings:
    shots = 1024


def main(backend, user_messenger, field="shots", value=1, **kwargs):
    setattr(Settings, field, value)
    return Settings.shots
