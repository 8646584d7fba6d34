# expect: PE401
"""Spells the attribute name at run time so that no literal shows it."""


def main(backend, user_messenger, **kwargs):
    part = "__glob"
    return getattr(main, part + "als__")
