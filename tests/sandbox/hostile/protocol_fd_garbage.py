"""Finds the runner's private protocol fd through /proc/self/fd and writes to it.

Every descriptor other than 0, 1 and 2 that is a pipe or a socket gets ``what``: ``garbage``
(a line that is not JSON) or ``long_line`` (``megabytes`` of data with no newline). Then the
program sleeps, so only the host can end the job.
"""

import os
import stat
import time


def _candidates():
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        fd = int(name)
        if fd in (0, 1, 2):
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            yield fd


def main(backend, user_messenger, what="garbage", megabytes=2):
    if what == "garbage":
        data = b"this is not a protocol message\n"
    else:
        data = b'{"v": 1, "type": "publish", "data": "' + b"z" * (megabytes << 20)
    candidates = list(_candidates())
    # Said before writing: once the host has seen the data, the program may not live long.
    print(f"writing {what} to fds {candidates}", flush=True)
    hit = []
    for fd in candidates:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            continue
        hit.append(fd)
    time.sleep(30)
    return {"fds": hit}
