# expect: PE606
"""A terminal escape in a comment erases the line above when the file is printed."""
import json
import os  # [1A[2K


def main(backend, user_messenger, **kwargs):
    return json.dumps({})
