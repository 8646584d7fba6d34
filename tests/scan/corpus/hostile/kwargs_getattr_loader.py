# expect: PE406
"""getattr with a literal name is still numpy.load: options come unpacked."""
import io

import numpy as np


def main(backend, user_messenger, **kwargs):
    loader = getattr(np, "load")
    options = dict(kwargs.get("options", {}))
    return loader(io.BytesIO(bytes.fromhex(kwargs["payload"])), **options)
