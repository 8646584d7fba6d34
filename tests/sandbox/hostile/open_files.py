"""Opens files until the nofile limit refuses, then reports how many it got and why."""

import errno
import os


def main(backend, user_messenger):
    opened = []
    stop = None
    try:
        while len(opened) < 1_000_000:
            opened.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        stop = errno.errorcode.get(exc.errno, str(exc.errno))
    return {"opened": len(opened), "stop": stop}
