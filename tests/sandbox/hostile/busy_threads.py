"""Keeps four threads busy (hashing releases the GIL, so they really run at once) for
``seconds``; reports the CPU time the process used and the wall time it took."""

import hashlib
import os
import threading
import time

BLOCK = b"x" * (1 << 20)


def _spin(until):
    while time.monotonic() < until:
        hashlib.sha256(BLOCK).digest()


def main(backend, user_messenger, threads=4, seconds=4.0):
    start_cpu = os.times()
    start = time.monotonic()
    workers = [threading.Thread(target=_spin, args=(start + seconds,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    end_cpu = os.times()
    wall = time.monotonic() - start
    cpu = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return {"cpu_seconds": cpu, "wall_seconds": wall}
