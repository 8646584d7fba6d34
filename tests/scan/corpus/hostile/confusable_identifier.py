# expect: PE602
"""Two functions whose names look the same; the Cyrillic one is called."""


def transpile_all(circuits):
    return circuits


def trаnspile_all(circuits):
    return [c.__class__ for c in circuits]


def main(backend, user_messenger, circuits=(), **kwargs):
    return trаnspile_all(list(circuits))
