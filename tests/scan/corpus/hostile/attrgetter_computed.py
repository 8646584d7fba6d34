# expect: PE401
"""operator.attrgetter is getattr by another name."""
import operator


def main(backend, user_messenger, path="__class__", **kwargs):
    return operator.attrgetter(path)(backend)
