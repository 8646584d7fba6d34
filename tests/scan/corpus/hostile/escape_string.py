# expect: PE403
"""Names an interpreter internal in a literal passed to getattr."""


def main(backend, user_messenger, **kwargs):
    return getattr(main, "__globals__")
