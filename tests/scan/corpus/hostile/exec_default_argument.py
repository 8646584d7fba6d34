# expect: PE201
"""Captures exec as a default argument, where the function's own scope cannot hide it."""


def step(source, runner=exec):
    runner(source)


def main(backend, user_messenger, **kwargs):
    step("x = 1")
    return "ok"
