# expect: PE104
"""Builds the module name at run time so that no literal names it."""


def main(backend, user_messenger, **kwargs):
    name = "".join(["o", "s"])
    return __import__(name).listdir("/")
