# expect: PE302
"""Indexes __builtins__ to reach exec without writing its name as code."""


def main(backend, user_messenger, **kwargs):
    table = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
    return table["ex" + "ec"]("x = 1")
