# expect: PE403
"""str.format can read attributes, so a format string can walk to globals."""


def main(backend, user_messenger, **kwargs):
    return "{0.__globals__}".format(main)
