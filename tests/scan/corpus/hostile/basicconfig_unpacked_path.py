# expect: PE501
"""logging.basicConfig writes its log where a literal ** mapping says: outside /tmp."""
import logging


def main(backend, user_messenger, **kwargs):
    logging.basicConfig(**{"filename": "/home/runner/.profile", "level": logging.INFO})
    logging.info("echo owned")
    return "configured"
