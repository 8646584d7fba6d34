# expect: PE501
"""Opens a computed path with a computed mode."""


def main(backend, user_messenger, path="/tmp/x", mode="r", **kwargs):
    with open(path, mode) as handle:
        return handle.name
