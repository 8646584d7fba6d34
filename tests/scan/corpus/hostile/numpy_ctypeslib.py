# expect: PE105
"""Loads a shared library through numpy."""
import numpy as np


def main(backend, user_messenger, **kwargs):
    libc = np.ctypeslib.load_library("libc", "/lib/x86_64-linux-gnu")
    return str(libc)
