# expect: PE304
"""vars() on a module is its __dict__."""
import dataclasses


def main(backend, user_messenger, **kwargs):
    return vars(dataclasses)["sy" + "s"]
