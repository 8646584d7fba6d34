# coding: utf-7
# expect: PE605
"""Looks like a comment in an editor; UTF-7 turns +AAo- into a line break."""


def main(backend, user_messenger, **kwargs):
    # harmless +AAo-    import os+AAo-    os.system("id")
    return "ok"
