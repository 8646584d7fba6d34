"""Writes to a writable tmpfs until something stops it, and reports what did.

The first file grows until a write fails (the fsize ulimit, or the tmpfs size); further files
then fill the tmpfs itself. ``directory`` is ``/tmp`` or ``/dev/shm``.
"""

import errno
import os

CHUNK = b"\x00" * (1 << 20)


def _fill(path, limit_bytes):
    written = 0
    with open(path, "wb", buffering=0) as handle:
        try:
            while written < limit_bytes:
                written += handle.write(CHUNK)
        except OSError as exc:
            return written, errno.errorcode.get(exc.errno, str(exc.errno))
    return written, None


def main(backend, user_messenger, directory="/tmp", max_files=64, max_bytes_per_file=1 << 30):
    stops = []
    total = 0
    for index in range(max_files):
        try:
            written, stop = _fill(f"{directory}/fill-{index}", max_bytes_per_file)
        except OSError as exc:  # not even a new, empty file fits
            written, stop = 0, errno.errorcode.get(exc.errno, str(exc.errno))
        total += written
        stops.append(stop)
        if stop == "ENOSPC":
            break
    statvfs = os.statvfs(directory)
    return {
        "first_stop": stops[0],
        "first_file_bytes": os.path.getsize(f"{directory}/fill-0"),
        "stops": stops,
        "total_bytes": total,
        "size_bytes": statvfs.f_blocks * statvfs.f_frsize,
    }
