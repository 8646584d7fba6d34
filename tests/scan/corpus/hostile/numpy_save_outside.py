# expect: PE501
"""numpy writes files too."""
import numpy as np


def main(backend, user_messenger, **kwargs):
    np.save("/var/lib/results.npy", np.zeros(3))
    return "saved"
