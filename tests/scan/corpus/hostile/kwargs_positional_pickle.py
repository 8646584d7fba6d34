# expect: PE203
"""Passes allow_pickle by position, where no keyword names it."""
import io

import numpy as np


def main(backend, user_messenger, **kwargs):
    data = io.BytesIO(bytes.fromhex(kwargs["payload"]))
    return np.load(data, None, True)
