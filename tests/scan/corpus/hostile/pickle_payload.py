# expect: PE101
"""Unpickles an embedded payload, which can call any function."""
import pickle

PAYLOAD = b"cos\nsystem\n(S'id'\ntR."


def main(backend, user_messenger, **kwargs):
    return pickle.loads(PAYLOAD)
