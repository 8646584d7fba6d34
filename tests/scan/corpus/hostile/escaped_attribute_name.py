# expect: PE403
"""Writes the attribute name with escape sequences, which still make a literal."""


def main(backend, user_messenger, **kwargs):
    return getattr(main, "\x5f\x5fglobals\x5f\x5f")
