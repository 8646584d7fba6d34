# expect: PE306
"""collections keeps sys as _sys; its modules table hands out the loaded os module."""
import collections


def main(backend, user_messenger, **kwargs):
    table = collections._sys.modules
    return sorted(table["os"].environ)
