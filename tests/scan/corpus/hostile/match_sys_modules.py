# expect: PE306
"""Matches sys.modules, reached through warnings, against a mapping pattern."""
import warnings


def main(backend, user_messenger, **kwargs):
    match warnings.sys.modules:
        case {"socket": net}:
            return net.gethostname()
        case _:
            return "no socket loaded"
