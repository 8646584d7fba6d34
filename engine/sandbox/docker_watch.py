"""Whether Docker answers, as the local executor sees it: the claim gate, lost sandboxes, reaping.

The executor's dispatcher calls :meth:`DockerWatch.check` before it claims queued jobs. It
pings the daemon (at most every ``interval`` seconds, each ping bounded by ``probe_timeout``)
and says whether to claim: while Docker does not answer, queued jobs stay queued. Once Docker
has not answered for ``lost_after`` seconds, :meth:`DockerWatch.lost` says so and the executor
ends the jobs it runs as ``ERROR``/``sandbox_lost`` (a sandbox whose stream Docker cut ends so
at once, without waiting for this). When Docker answers again after an outage, or after a run
could not remove its container, :meth:`DockerWatch.reap` removes the containers this process
created for jobs it no longer runs; other processes' containers are left alone.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import docker.errors

from engine.errors import SandboxUnavailable
from engine.process_identity import this_process
from engine.sandbox.docker_client import DOCKER_GONE, answers, shared_client

log = logging.getLogger(__name__)


class DockerWatch:
    """Docker's availability over time for one executor; thread-safe."""

    def __init__(self, *, probe_timeout: float, lost_after: float, interval: float,
                 probe: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.probe_timeout = probe_timeout
        self.lost_after = lost_after
        self.interval = interval
        self._probe = probe or (lambda: answers(self.probe_timeout))
        self._clock = clock
        self._lock = threading.Lock()
        self.up = True
        self.down_since: float | None = None  # when the first unanswered ping was sent
        self._checked_at = -math.inf
        self._reap_pending = False

    def check(self) -> bool:
        """Whether Docker answered its latest ping (pinging again if that is ``interval``
        seconds old)."""
        with self._lock:
            if self._clock() - self._checked_at < self.interval:
                return self.up
        return self.ping()

    def ping(self) -> bool:
        """Ping Docker now; whether it answered."""
        with self._lock:
            now = self._checked_at = self._clock()
        answered = self._probe()
        with self._lock:
            if answered and self.down_since is not None:
                log.warning("Docker answers again after %.1f s; queued jobs run again",
                            now - self.down_since)
                self._reap_pending = True
                self.down_since = None
            elif not answered and self.down_since is None:
                log.warning("Docker does not answer; queued jobs wait, running ones end as "
                            "sandbox_lost after %g s", self.lost_after)
                self.down_since = now
            self.up = answered
        return answered

    def lost(self) -> bool:
        """Whether Docker has not answered for ``lost_after`` seconds or more."""
        with self._lock:
            return self.down_since is not None and (
                self._clock() - self.down_since >= self.lost_after)

    def reap_later(self) -> None:
        """A run lost Docker, or could not remove its container: ping again before the next
        claim, and remove what was left once Docker answers."""
        with self._lock:
            self._reap_pending = True
            self._checked_at = -math.inf

    def reap(self, is_live: Callable[[str], bool]) -> list[str]:
        """If Docker answers and something is left to remove, remove this process's
        containers of jobs that are not live; return their job ids."""
        with self._lock:
            if not (self.up and self._reap_pending):
                return []
            self._reap_pending = False
        try:
            removed = reap_orphans_of_this_process(is_live)
        except (SandboxUnavailable, docker.errors.APIError, *DOCKER_GONE):
            self.reap_later()
            return []
        if removed:
            log.warning("removed the sandboxes of jobs %s, left when Docker went away", removed)
        return removed


def reap_orphans_of_this_process(is_live: Callable[[str], bool]) -> list[str]:
    """Remove the containers this process created for jobs ``is_live`` does not name."""
    from engine.sandbox.container import reap_orphans

    return reap_orphans(shared_client(), is_live, owner=this_process())
