"""Fails the ordinary way: an exception out of main()."""


def _check(value):
    if value == 42:
        raise ValueError(f"boom {value}")


def main(backend, user_messenger, value=42):
    _check(value)
    return value
