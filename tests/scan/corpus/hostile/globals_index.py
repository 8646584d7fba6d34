# expect: PE402
"""Looks names up in globals() by a computed key."""


def main(backend, user_messenger, name="main", **kwargs):
    return globals()[name]
