# expect: PE404
"""Calls numpy.load out of a table, where the call cannot be matched to numpy.load."""
import io

import numpy as np

LOADERS = {"npy": np.load, "txt": np.loadtxt}


def main(backend, user_messenger, **kwargs):
    loader = LOADERS[kwargs.get("kind", "npy")]
    return loader(io.BytesIO(bytes.fromhex(kwargs["payload"])), **kwargs.get("options", {}))
