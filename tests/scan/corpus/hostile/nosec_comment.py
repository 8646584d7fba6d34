# expect: B102
"""A nosec comment does not hide anything from the review."""


def main(backend, user_messenger, code="", **kwargs):
    exec(code)  # nosec
    return "ok"
