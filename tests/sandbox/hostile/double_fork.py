"""Leaves a daemonised grandchild behind that would sleep for ten minutes, then returns."""

import os
import time


def main(backend, user_messenger, **kwargs):
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)  # the grandchild outlives main() by far
        os._exit(0)
    os.waitpid(child, 0)
    return {"parent": os.getpid(), "left_behind": True}
