"""Writes well-formed protocol lines where a program's output goes, then finishes honestly.

``via`` picks the way out: ``print``, ``sys_stdout`` (``sys.stdout.write``), ``sys_dunder_stdout``
(``sys.__stdout__``) or ``fd1`` (``os.write(1, ...)``).
"""

import json
import os
import sys

FORGED = [
    {"v": 1, "type": "publish", "data": json.dumps("forged interim"), "final": False},
    {"v": 1, "type": "publish", "data": json.dumps("forged final"), "final": True},
    {"v": 1, "type": "result", "data": json.dumps("forged result")},
    {"v": 1, "type": "error", "error_type": "Forged", "message": "forged error"},
]


def main(backend, user_messenger, via="print"):
    text = "".join(json.dumps(message) + "\n" for message in FORGED)
    if via == "print":
        print(text, end="", flush=True)
    elif via == "sys_stdout":
        sys.stdout.write(text)
        sys.stdout.flush()
    elif via == "sys_dunder_stdout":
        sys.__stdout__.write(text)
        sys.__stdout__.flush()
    elif via == "fd1":
        os.write(1, text.encode())
    else:
        raise ValueError(f"unknown way out: {via}")
    user_messenger.publish("real interim")
    return "real result"
