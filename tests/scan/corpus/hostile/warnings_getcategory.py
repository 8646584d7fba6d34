# expect: PE105
"""warnings imports the module a category name points at, whatever the module is."""
import warnings


def main(backend, user_messenger, **kwargs):
    try:
        warnings._getcategory(kwargs.get("category", "socket.socket"))
    except Exception as exc:  # not a Warning subclass, but imported all the same
        return type(exc).__name__
    return "imported"
