# expect: PE203
"""Unpickles an embedded payload through numpy's loader."""
import base64
import io

import numpy as np

BLOB = base64.b64decode("k05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCB9")


def main(backend, user_messenger, **kwargs):
    return np.load(io.BytesIO(BLOB), allow_pickle=True)
