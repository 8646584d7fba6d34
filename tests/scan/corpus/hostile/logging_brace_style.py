# expect: PE405
"""A {-style logging format reads attributes of the record: here one given at run time."""
import logging


def main(backend, user_messenger, **kwargs):
    layout = kwargs.get("layout", "{message}")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(layout, style="{"))
    logger = logging.getLogger("vqe")
    logger.addHandler(handler)
    logger.warning("iteration done")
    return "logged"
