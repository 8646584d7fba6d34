"""DockerWatch's bookkeeping: the claim gate, when running jobs count as lost, and when to
reap. Pure logic (a scripted probe and clock); the real daemon restart is in
``tests/faults/test_docker_restart.py``."""

from __future__ import annotations

from engine.sandbox.docker_watch import DockerWatch


class _Script:
    def __init__(self) -> None:
        self.now = 0.0
        self.answers = True
        self.pings = 0

    def probe(self) -> bool:
        self.pings += 1
        return self.answers


def _watch(script: _Script) -> DockerWatch:
    return DockerWatch(probe_timeout=1, lost_after=30, interval=0.5, probe=script.probe,
                       clock=lambda: script.now)


def test_pings_at_most_once_per_interval() -> None:
    script = _Script()
    watch = _watch(script)
    assert watch.check() and watch.check()
    assert script.pings == 1
    script.now = 0.6
    assert watch.check()
    assert script.pings == 2


def test_jobs_are_lost_only_after_lost_after_seconds_without_an_answer() -> None:
    script = _Script()
    watch = _watch(script)
    script.answers = False
    assert not watch.check()
    script.now = 29.9
    assert not watch.check()
    assert not watch.lost()
    script.now = 30.0
    assert watch.lost()
    script.answers, script.now = True, 31.0
    assert watch.check()
    assert not watch.lost()


def test_reaps_once_docker_is_back_and_only_then(monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("engine.sandbox.docker_watch.reap_orphans_of_this_process",
                        lambda is_live: calls.append(1) or ["job-a"])
    script = _Script()
    watch = _watch(script)
    watch.check()
    assert watch.reap(lambda job_id: False) == []  # nothing was lost: no listing at all
    script.answers, script.now = False, 1.0
    watch.check()
    watch.reap_later()  # a run could not remove its container
    assert watch.reap(lambda job_id: False) == []  # Docker is away: nothing to ask
    script.answers = True
    assert watch.check()  # reap_later asked for a fresh ping before the next claim
    assert watch.reap(lambda job_id: False) == ["job-a"]
    assert watch.reap(lambda job_id: False) == []
    assert calls == [1]
