"""Dashboard sessions: expiry, caps, and the CSRF comparison (pure logic)."""

from __future__ import annotations

from engine.server.ui.access import safe_next
from engine.server.ui.policy import SessionLimits
from engine.server.ui.sessions import SessionStore, same_secret

LIMITS = SessionLimits(idle_seconds=10, max_age_seconds=100, max_per_user=2, max_total=3,
                       max_token_length=512)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_idle_or_old_and_on_sign_out() -> None:
    clock = Clock()
    store = SessionStore(LIMITS, clock)
    session = store.open("alice", "token")
    assert session.id != session.csrf and "token" not in session.id
    clock.now = 9
    assert store.get(session.id) is session  # used: the idle clock starts again
    clock.now = 18
    assert store.get(session.id) is session
    clock.now = 29
    assert store.get(session.id) is None  # idle for 11 s
    fresh = store.open("alice", "token")
    for step in range(1, 13):  # busy, but older than max_age_seconds in the end
        clock.now = 29 + step * 9
        assert (store.get(fresh.id) is None) == (step * 9 > 100)
    again = store.open("alice", "token")
    store.close(again.id)
    assert store.get(again.id) is None
    assert store.get(None) is None and store.get("x" * 500) is None


def test_caps_push_out_the_least_recently_used() -> None:
    store = SessionStore(LIMITS, Clock())
    a1, a2 = store.open("alice", "t"), store.open("alice", "t")
    a3 = store.open("alice", "t")  # over max_per_user: a1 goes
    assert store.get(a1.id) is None and store.get(a2.id) and store.get(a3.id)
    store.get(a2.id)
    b1 = store.open("bob", "t")
    b2 = store.open("bob", "t")  # over max_total: a3 (least recently used) goes
    assert len(store) == 3
    assert store.get(a3.id) is None and store.get(a2.id) and store.get(b1.id)
    assert store.get(b2.id)


def test_csrf_comparison_and_where_a_sign_in_may_lead() -> None:
    assert same_secret("abc", "abc") and not same_secret("abd", "abc")
    assert not same_secret(None, "abc") and not same_secret("", "abc")
    assert safe_next("/ui/jobs?status=DONE") == "/ui/jobs?status=DONE"
    for hostile in ("https://evil.example/", "//evil.example/ui", "/ui/../v1", "/v1/jobs",
                    "/ui\\evil", "/ui/jobs\r\nSet-Cookie: x", None, ""):
        assert safe_next(hostile) == "/ui"
