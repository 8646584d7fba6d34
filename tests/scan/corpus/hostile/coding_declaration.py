# -*- coding: cp1252 -*-
# expect: PE604
"""An unusual encoding declaration, though this file happens to be plain ASCII."""


def main(backend, user_messenger, **kwargs):
    return "ok"
