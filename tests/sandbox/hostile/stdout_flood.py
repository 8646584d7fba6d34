"""Writes 200 MB to stdout through print, sys.stdout and fd 1, then returns normally."""

import os
import sys


def main(backend, user_messenger, megabytes=200):
    line = "y" * 1023 + "\n"
    block = (line * 1024).encode()  # 1 MiB
    third = megabytes // 3
    for _ in range(third):
        os.write(1, block)
    text = block.decode()
    for _ in range(third):
        sys.stdout.write(text)
    for _ in range(megabytes - 2 * third):
        print(text, end="")
    sys.stdout.flush()
    return "survived the flood"
