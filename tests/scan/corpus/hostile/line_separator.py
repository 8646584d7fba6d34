# expect: PE606
"""A line separator makes editors show a line the interpreter reads as a comment."""


def main(backend, user_messenger, **kwargs):
    shots = 1024  # default     shots = 1
    return shots
