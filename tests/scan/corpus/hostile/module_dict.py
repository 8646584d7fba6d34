# expect: PE304
"""Reads a module's namespace to find names the source never mentions."""
import json


def main(backend, user_messenger, **kwargs):
    namespace = json.__dict__
    return sorted(namespace)
