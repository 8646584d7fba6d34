"""Touches ever more memory, 16 MiB at a time, until the kernel stops it."""


def main(backend, user_messenger, **kwargs):
    hoard = []
    while True:
        hoard.append(b"\x01" * (16 << 20))
