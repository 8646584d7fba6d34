"""How many connections the daemon holds open: per client address and in all.

Each open connection is a file descriptor. About 20,000 half-sent requests used to take
every descriptor of the process, after which nothing (not even the store) could open a
file. :class:`ConnectionGuard` counts the connections the HTTP protocol admits and refuses
one more from an address at ``max_per_client``, and any more at the total, which stays
below the process's descriptor limit (:func:`connection_budget`).

A refused connection gets a fixed 503 and is half-closed; it lingers briefly so that the
client reads the answer rather than a reset, but only a few of them at a time.

The reserve of descriptors kept free is shared out: a quarter for refused connections
lingering, a quarter for one batch of accepted connections (asyncio accepts up to the
listen backlog in one go, before any refusal is closed), and half for the process's own
files (the store, Docker, logs).
"""

from __future__ import annotations

import inspect
import logging
import math
import resource
from collections import Counter
from dataclasses import dataclass

import uvicorn

from engine.errors import ConfigurationError
from engine.server.policy import Connections

log = logging.getLogger(__name__)

#: uvicorn's own listen backlog, the most this module asks for.
_UVICORN_BACKLOG = inspect.signature(uvicorn.Config).parameters["backlog"].default
#: ``max_per_client`` reached, ``max_total`` reached: the reasons a connection is refused.
PER_CLIENT = "max_per_client"
TOTAL = "max_total"


def descriptor_limit() -> int:
    """The process's soft limit on open descriptors (RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return int(soft)


@dataclass(frozen=True)
class ConnectionBudget:
    """What the guard allows, and what it was derived from."""

    max_total: int
    max_per_client: int
    max_lingering: int
    accept_backlog: int
    descriptor_limit: int
    reserve: int


def connection_budget(limits: Connections, nofile: int | None = None) -> ConnectionBudget:
    """The connection caps for a process allowed ``nofile`` descriptors.

    The total is the descriptor limit less a reserve (the larger of ``fd_reserve_min`` and
    ``fd_reserve_fraction`` of the limit), or ``max_total`` when that is lower. A quarter of
    the reserve may be held by refused connections lingering to deliver their 503, and the
    listen backlog (the most connections accepted in one go) is another quarter, at most
    uvicorn's default.
    """
    nofile = descriptor_limit() if nofile is None else nofile
    reserve = max(limits.fd_reserve_min, math.ceil(nofile * limits.fd_reserve_fraction))
    available = nofile - reserve
    if available < 1:
        raise ConfigurationError(
            f"the descriptor limit (RLIMIT_NOFILE {nofile}) leaves no room for connections "
            f"after the reserve of {reserve} (connections.fd_reserve_min, "
            "connections.fd_reserve_fraction); raise it with `ulimit -n`"
        )
    total = available
    if limits.max_total is not None:
        if limits.max_total > available:
            log.warning("connections.max_total %d is over what the descriptor limit %d allows "
                        "with its reserve; using %d", limits.max_total, nofile, available)
        total = min(limits.max_total, available)
    quarter = max(1, reserve // 4)
    backlog = min(_UVICORN_BACKLOG, quarter)
    return ConnectionBudget(total, min(limits.max_per_client, total), quarter, backlog, nofile,
                            reserve)


class ConnectionGuard:
    """Open connections by client address; used from the event loop's thread only."""

    def __init__(self, budget: ConnectionBudget) -> None:
        self.budget = budget
        self.by_address: Counter[str | None] = Counter()
        self.total = 0
        self.lingering = 0
        self.refused = 0

    def admit(self, address: str | None) -> str | None:
        """Count a new connection from ``address``; the cap it would break, or ``None``."""
        if self.total >= self.budget.max_total:
            reason: str | None = TOTAL
        elif address is not None and self.by_address[address] >= self.budget.max_per_client:
            reason = PER_CLIENT
        else:
            self.total += 1
            self.by_address[address] += 1
            return None
        self.refused += 1
        return reason

    def release(self, address: str | None) -> None:
        """A connection :meth:`admit` counted has closed."""
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]

    def start_linger(self) -> bool:
        """Whether one more refused connection may linger (else it is closed at once)."""
        if self.lingering >= self.budget.max_lingering:
            return False
        self.lingering += 1
        return True

    def end_linger(self) -> None:
        self.lingering -= 1
