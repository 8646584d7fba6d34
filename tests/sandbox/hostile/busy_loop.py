"""Spins on the CPU for ever."""


def main(backend, user_messenger, **kwargs):
    count = 0
    while True:
        count += 1
