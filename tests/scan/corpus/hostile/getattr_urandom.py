# expect: PE105
"""getattr with a literal name is random._urandom, which is posix.urandom."""
import random


def main(backend, user_messenger, **kwargs):
    draw = getattr(random, "_urandom")
    return draw(16).hex()
