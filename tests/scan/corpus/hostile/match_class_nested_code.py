# expect: PE301
"""Nested class patterns walk from a function to its code object's constants."""


def secret_schedule(theta):
    return {"theta": theta, "token": "calibration-token"}


def main(backend, user_messenger, **kwargs):
    match secret_schedule:
        case object(__code__=object(co_consts=constants)):
            return [c for c in constants if isinstance(c, str)]
    return []
