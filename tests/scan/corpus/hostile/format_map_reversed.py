# expect: PE405
"""format_map on a template stored reversed, so that it reads as noise."""
import logging

TEMPLATE = "}ledom{ }norivne.so.m{"


def main(backend, user_messenger, **kwargs):
    return TEMPLATE[::-1].format_map({"m": logging, "model": "ibm"})
