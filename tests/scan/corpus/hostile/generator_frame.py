# expect: PE303
"""Climbs from a generator's frame to its caller's globals."""


def steps():
    yield 1


def main(backend, user_messenger, **kwargs):
    generator = steps()
    return generator.gi_frame.f_back.f_globals
