# expect: PE106
"""numpy's star import includes save, which then writes outside the scratch space."""
from numpy import *  # noqa: F403


def main(backend, user_messenger, **kwargs):
    weights = ones(4)  # noqa: F405
    save("/home/runner/.bashrc.npy", weights)  # noqa: F405
    return weights.tolist()
