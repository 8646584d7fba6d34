# expect: PE201
"""Binds eval with an assignment expression inside a comprehension."""


def main(backend, user_messenger, terms=("1", "2"), **kwargs):
    return [(ev := eval)(term) for term in terms]
