# expect: PE301
"""object.__getattribute__ is getattr without the name."""


def main(backend, user_messenger, name="shots", **kwargs):
    return object.__getattribute__(backend, name)
