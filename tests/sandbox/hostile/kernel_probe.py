"""Knocks on kernel surfaces a sandboxed program should never reach, and reports each answer.

Each probe is one system call (through ctypes, so the program needs no special module) or one
file operation; the report maps its name to ``"allowed"`` or the errno name it failed with.
Nothing here sends a packet: the sockets are created, bound to an abstract name or connected
to one, never to a network address.
"""

import ctypes
import errno
import os
import socket

# x86_64 system call numbers.
SYS_PTRACE = 101
SYS_MOUNT = 165
SYS_UNSHARE = 272
SYS_PROCESS_VM_READV = 310
SYS_PROCESS_VM_WRITEV = 311
SYS_IO_URING_SETUP = 425
SYS_IO_URING_ENTER = 426
SYS_IO_URING_REGISTER = 427
SYS_KEYCTL = 250
SYS_BPF = 321
SYS_USERFAULTFD = 323
SYS_PERF_EVENT_OPEN = 298
PTRACE_TRACEME = 0
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
AF_VSOCK = 40
AF_PACKET = 17

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _name(number):
    return errno.errorcode.get(number, f"errno {number}")


def _syscall(number, *args):
    result = _libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result < 0:
        return _name(ctypes.get_errno())
    return "allowed"


def _io_uring_setup():
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    result = _libc.syscall(ctypes.c_long(SYS_IO_URING_SETUP), ctypes.c_long(4), params)
    if result < 0:
        return _name(ctypes.get_errno())
    os.close(result)
    return "allowed"


def _ptrace_child():
    """PTRACE_TRACEME in a forked child: the way a program would trace its own children."""
    pid = os.fork()
    if pid == 0:
        result = _libc.syscall(ctypes.c_long(SYS_PTRACE), ctypes.c_long(PTRACE_TRACEME),
                               ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
        os._exit(0 if result == 0 else min(ctypes.get_errno(), 255))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return "allowed" if code == 0 else _name(code)


def _socket(family, kind=socket.SOCK_STREAM):
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        return _name(exc.errno)
    sock.close()
    return "allowed"


def _write(path, data=b"1"):
    try:
        with open(path, "wb", buffering=0) as handle:
            handle.write(data)
    except OSError as exc:
        return _name(exc.errno)
    return "allowed"


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError as exc:
        return _name(exc.errno)
    return "allowed"


def _cgroup_writes():
    """Every write the program may try under /sys/fs/cgroup: raising its own limits."""
    results = {}
    for root, _dirs, files in os.walk("/sys/fs/cgroup"):
        for name in files:
            if name.endswith((".max", ".limit_in_bytes", "cfs_quota_us", ".procs", "tasks")):
                path = os.path.join(root, name)
                results[path] = _write(path, b"max" if name.endswith(".max") else b"-1")
        results[os.path.join(root, "escape")] = _mkdir(os.path.join(root, "escape"))
        if len(results) > 200:
            break
    return results


def _abstract_unix(name):
    """Connect to the host's abstract socket ``name``; bind one of our own."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(2)
        client.connect("\0" + name)
        connected = "allowed"
    except OSError as exc:
        connected = _name(exc.errno) if exc.errno else type(exc).__name__
    finally:
        client.close()
    own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        own.bind("\0sandbox-own-" + str(os.getpid()))
        bound = "allowed"
    except OSError as exc:
        bound = _name(exc.errno)
    finally:
        own.close()
    return connected, bound


def main(backend, user_messenger, abstract_name="no-such-socket"):
    connected, bound = _abstract_unix(abstract_name)
    return {
        "ptrace_traceme": _ptrace_child(),
        "process_vm_readv": _syscall(SYS_PROCESS_VM_READV, os.getpid(), 0, 0, 0, 0, 0),
        "process_vm_writev": _syscall(SYS_PROCESS_VM_WRITEV, os.getpid(), 0, 0, 0, 0, 0),
        "io_uring_setup": _io_uring_setup(),
        "io_uring_enter": _syscall(SYS_IO_URING_ENTER, -1, 0, 0, 0, 0, 0),
        "io_uring_register": _syscall(SYS_IO_URING_REGISTER, -1, 0, 0, 0),
        "unshare_user": _syscall(SYS_UNSHARE, CLONE_NEWUSER),
        "unshare_mount": _syscall(SYS_UNSHARE, CLONE_NEWNS),
        "mount_tmpfs": _syscall(SYS_MOUNT, 0, 0, 0, 0, 0),
        "keyctl": _syscall(SYS_KEYCTL, 0, 0, 0, 0, 0),
        "bpf": _syscall(SYS_BPF, 0, 0, 0),
        "userfaultfd": _syscall(SYS_USERFAULTFD, 0),
        "perf_event_open": _syscall(SYS_PERF_EVENT_OPEN, 0, 0, -1, -1, 0),
        "af_vsock": _socket(AF_VSOCK),
        "af_packet": _socket(AF_PACKET, socket.SOCK_RAW),
        "af_inet": _socket(socket.AF_INET),
        "af_unix": _socket(socket.AF_UNIX),
        "sysrq_trigger": _write("/proc/sysrq-trigger", b"h"),
        "cgroup_writes": _cgroup_writes(),
        "abstract_connect": connected,
        "abstract_bind": bound,
    }
