"""Sign-in sessions of the dashboard, kept in the daemon's memory.

The browser holds only a random session id (256 bits) in an ``HttpOnly``, ``SameSite=Strict``
cookie scoped to ``/ui``; the token it was opened with stays on the server, so that every
request checks it again (a revoked token ends the session at once) and nothing in the cookie
is worth stealing once the session ends. Each session has its own CSRF token, which every
form carries and every ``POST`` must send back.

A restart forgets every session (sign in again); memory stays bounded by the policy's caps,
the least recently used session going first.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.server.ui.policy import SessionLimits

#: The cookie holding the session id, and the one holding a sign-in form's CSRF token.
SESSION_COOKIE = "pe_session"
LOGIN_COOKIE = "pe_login"
#: Where both cookies are sent: the dashboard only, never the API.
COOKIE_PATH = "/ui"
_ID_BYTES = 32


def new_secret() -> str:
    """A fresh random value for a session id or a CSRF token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(_ID_BYTES)


def same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time."""
    return isinstance(given, str) and secrets.compare_digest(given.encode(), expected.encode())


@dataclass
class Session:
    """One signed-in browser."""

    id: str
    user: str
    token: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    seen: float


class SessionStore:
    """Open sessions by id, bounded per user and in all, expiring when idle or old."""

    def __init__(self, limits: SessionLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, user: str, token: str) -> Session:
        """A new session of ``user`` signed in with ``token`` (the oldest go past a cap)."""
        now = self._clock()
        session = Session(new_secret(), user, token, new_secret(), now, now)
        with self._lock:
            mine = [s.id for s in self._sessions.values() if s.user == user]
            for old in mine[: max(0, len(mine) - self.limits.max_per_user + 1)]:
                del self._sessions[old]
            while len(self._sessions) >= self.limits.max_total:
                self._sessions.popitem(last=False)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id (marked as used now), or ``None``."""
        if not session_id or len(session_id) > 128:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if (now - session.seen > self.limits.idle_seconds
                    or now - session.created > self.limits.max_age_seconds):
                del self._sessions[session_id]
                return None
            session.seen = now
            self._sessions.move_to_end(session_id)
            return session

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out, or its token found revoked)."""
        with self._lock:
            self._sessions.pop(session_id or "", None)
