"""Returns a value no encoder can put on the wire: a lock inside a dict."""

import threading


def main(backend, user_messenger, **kwargs):
    return {"lock": threading.Lock()}
