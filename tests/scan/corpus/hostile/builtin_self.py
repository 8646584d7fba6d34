# expect: PE301
"""A builtin function's __self__ is the builtins module."""


def main(backend, user_messenger, **kwargs):
    return print.__self__.open("/etc/shadow").read()
