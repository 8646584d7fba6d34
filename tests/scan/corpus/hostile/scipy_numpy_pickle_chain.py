# expect: PE105
"""From scipy to numpy to numpy's own pickle import, without naming pickle's module."""
import scipy.linalg._basic as basic


def main(backend, user_messenger, **kwargs):
    payload = bytes.fromhex(kwargs["payload"])
    return basic.np.lib._format_impl.pickle.loads(payload)
