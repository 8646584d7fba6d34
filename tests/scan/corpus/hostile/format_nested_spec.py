# expect: PE303
"""A field nested in a format spec is expanded too: it walks to the caller's frame."""


def ticker():
    yield 1
    yield 2


def main(backend, user_messenger, **kwargs):
    gen = ticker()
    next(gen)
    return "{0:>{1.gi_frame.f_back}}".format("x", gen)
