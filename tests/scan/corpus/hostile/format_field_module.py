# expect: PE305
"""str.format follows attribute paths: the environment leaks through a format field."""
import logging


def report(energy: float) -> str:
    return "energy={0:.4f} env={1.os.environ}".format(energy, logging)


def main(backend, user_messenger, **kwargs):
    text = report(-1.137)
    user_messenger.publish(text)
    return text
