# expect: B104
"""Prepares to listen on every interface."""
LISTEN_ON = "0.0.0.0"


def main(backend, user_messenger, **kwargs):
    return {"host": LISTEN_ON, "port": 8080}
