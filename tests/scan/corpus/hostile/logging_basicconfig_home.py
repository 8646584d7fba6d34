# expect: PE501
"""logging.basicConfig opens its log file for appending: here in the home folder."""
import logging


def main(backend, user_messenger, **kwargs):
    logging.basicConfig(filename="/home/runner/.bash_history", level=logging.DEBUG)
    logging.getLogger("trace").debug("hello")
    return "logged"
