# expect: PE502
"""Starts a debugger on the protocol channel."""


def main(backend, user_messenger, **kwargs):
    breakpoint()
    return "ok"
