# expect: PE406
"""Hides allow_pickle in a keyword name computed at run time."""
import io

import numpy as np


def main(backend, user_messenger, **kwargs):
    blob = bytes.fromhex(kwargs.get("blob", ""))
    flag = "_".join(["allow", "pickle"])
    return np.load(io.BytesIO(blob), **{flag: True})
