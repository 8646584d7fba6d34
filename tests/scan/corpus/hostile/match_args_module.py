# expect: PE305
"""__match_args__ on a ModuleType subclass turns a positional pattern into logging.os."""
import logging
import types


class Shim(types.ModuleType):
    __match_args__ = ("os",)


def main(backend, user_messenger, **kwargs):
    logging.__class__ = Shim
    match logging:
        case Shim(operating_system):
            return operating_system.getcwd()
    return None
