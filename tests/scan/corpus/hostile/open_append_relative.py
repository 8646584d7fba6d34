# expect: PE501
"""Appends to a file next to the program, where the engine's own code lives."""


def main(backend, user_messenger, **kwargs):
    with open("../runner.py", "a") as handle:
        handle.write("\n# changed\n")
    return "ok"
