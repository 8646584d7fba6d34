# expect: PE105
"""numpy's DataSource fetches URLs and caches them in a folder of its choosing."""
import numpy as np


def main(backend, user_messenger, **kwargs):
    source = np.lib.npyio.DataSource("/home/runner/cache")
    with source.open(kwargs.get("url", "http://203.0.113.9/x")) as handle:
        return handle.read()
