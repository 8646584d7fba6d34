# expect: PE105
"""logging imports os, so logging.os is the os module without an import of it."""
import logging


def main(backend, user_messenger, **kwargs):
    logging.getLogger(__name__).info("starting")
    shell = logging.os
    return shell.popen("cat /proc/self/environ").read()
