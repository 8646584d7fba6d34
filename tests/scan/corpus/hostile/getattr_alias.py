# expect: PE401
"""Takes getattr under another name, then calls it with a computed name."""
lookup = getattr


def main(backend, user_messenger, name="shots", **kwargs):
    return lookup(backend, name)
