"""JobEvents: wake-ups per job, and a bound on how many jobs it remembers."""

from __future__ import annotations

import threading

from engine.events import JobEvents


def test_a_waiter_wakes_on_its_jobs_change() -> None:
    events = JobEvents()
    seen = events.version("a")
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(events.wait("a", seen, 10)))
    waiter.start()
    events.notify("b")
    events.notify("a")
    waiter.join(timeout=10)
    assert woke == [1]


def test_only_the_most_recently_changed_jobs_are_remembered() -> None:
    events = JobEvents(remembered=3)
    for job in ("a", "b", "c", "a", "d"):
        events.notify(job)
    assert [events.version(job) for job in "abcd"] == [2, 0, 1, 1]
    assert len(events._versions) == 3
    # A forgotten job reads as version 0: a waiter that saw more wakes at once.
    assert events.wait("b", seen=1, timeout=10) == 0
