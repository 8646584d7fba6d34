# expect: PE405
"""string.Formatter.get_field resolves an attribute path given at run time."""
import string


def main(backend, user_messenger, **kwargs):
    path = kwargs.get("path", "0.__init__.__globals__")
    value, _ = string.Formatter().get_field(path, [backend], {})
    return repr(value)
