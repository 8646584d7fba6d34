# -*- coding: latin-1 -*-
# expect: PE605
"""Valid latin-1, not valid UTF-8: editors and the interpreter disagree."""


def main(backend, user_messenger, **kwargs):
    return "résultat"
