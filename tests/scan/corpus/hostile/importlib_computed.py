# expect: PE104
"""Imports a module whose name arrives as a program input."""
import importlib


def main(backend, user_messenger, module="json", **kwargs):
    return importlib.import_module(module).__name__
