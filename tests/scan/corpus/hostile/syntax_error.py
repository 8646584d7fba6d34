# expect: PE801
"""Python 2 code does not parse, so it cannot be reviewed."""


def main(backend, user_messenger, **kwargs):
    print "hello"
    return "ok"
