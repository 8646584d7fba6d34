# expect: PE106
"""logging's star import includes FileHandler under a bare name."""
from logging import *  # noqa: F403


def main(backend, user_messenger, **kwargs):
    logger = getLogger("trace")  # noqa: F405
    logger.addHandler(FileHandler("/var/tmp/trace.log"))  # noqa: F405
    logger.error("started")
    return "ok"
