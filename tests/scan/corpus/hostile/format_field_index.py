# expect: PE305
"""An index step in a format field reads a module out of another module's namespace."""
import json


def main(backend, user_messenger, **kwargs):
    template = "{codec.__dict__[codecs].__name__}"
    return template.format(codec=json)
