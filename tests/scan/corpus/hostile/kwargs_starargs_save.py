# expect: PE406
"""numpy.save with its target unpacked from a list built at run time."""
import numpy as np


def main(backend, user_messenger, **kwargs):
    spec = [kwargs.get("target", "/tmp/out.npy"), np.arange(8)]
    np.save(*spec)
    return "saved"
