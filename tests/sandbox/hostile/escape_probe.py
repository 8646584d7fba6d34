"""Looks for ways out of the sandbox and reports what it finds, without sending any packet.

It tries to write to the root filesystem, reads its environment, looks for the Docker socket,
calls setuid(0), reads its credentials, capabilities and seccomp mode, lists the network
interfaces and routes, resolves a name and connects to 192.0.2.1 (TEST-NET-1). Both fail
locally when there is no network: with only ``lo`` and no route, connect() ends with
ENETUNREACH before any packet is built.
"""

import errno
import os
import socket

WRITE_TARGETS = ["/escape", "/etc/escape", "/usr/escape", "/opt/escape", "/program/escape"]
SOCKET_PATHS = ["/var/run/docker.sock", "/run/docker.sock", "/docker.sock"]


def _error_name(exc):
    return errno.errorcode.get(exc.errno, type(exc).__name__) if exc.errno else type(exc).__name__


def _try_writes():
    results = {}
    for path in WRITE_TARGETS:
        try:
            with open(path, "w") as handle:
                handle.write("escaped")
        except OSError as exc:
            results[path] = _error_name(exc)
        else:
            results[path] = "written"
    return results


def _mounts():
    mounts = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            mounts[fields[4]] = fields[5].split(",")
    return mounts


def _status():
    wanted = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in wanted:
                status[key] = value.strip()
    return status


def _setuid():
    try:
        os.setuid(0)
    except OSError as exc:
        return type(exc).__name__
    return "became root"


def _resolve():
    try:
        socket.getaddrinfo("example.com", 80)
    except OSError as exc:
        return type(exc).__name__
    return "resolved"


def _connect():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(5)
    try:
        probe.connect(("192.0.2.1", 80))
    except OSError as exc:
        return _error_name(exc)
    finally:
        probe.close()
    return "connected"


def _routes():
    with open("/proc/net/route") as handle:
        return [line.split()[:3] for line in handle.readlines()[1:]]


def _sockets_anywhere():
    found = []
    for top in ("/run", "/var/run", "/tmp", "/"):
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            path = os.path.join(top, name)
            try:
                if os.path.exists(path) and os.stat(path).st_mode & 0o170000 == 0o140000:
                    found.append(path)
            except OSError:
                continue
    return sorted(set(found))


def main(backend, user_messenger, **kwargs):
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "writes": _try_writes(),
        "mounts": _mounts(),
        "status": _status(),
        "environ": dict(os.environ),
        "docker_socket": {path: os.path.exists(path) for path in SOCKET_PATHS},
        "unix_sockets": _sockets_anywhere(),
        "setuid": _setuid(),
        "interfaces": sorted(os.listdir("/sys/class/net")),
        "routes": _routes(),
        "resolve": _resolve(),
        "connect": _connect(),
    }
