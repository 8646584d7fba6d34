# expect: PE503
"""Reads stdin through an alias of input."""
ask = input


def main(backend, user_messenger, **kwargs):
    return ask()
