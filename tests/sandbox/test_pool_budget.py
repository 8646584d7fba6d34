"""The warm pool's bookkeeping, as pure logic: keys, the memory budget, the per-program cap,
the most jobs per container and the idle timeout. Containers here are stand-ins that record
their removal; the real ones are in test_pool.py and test_reuse.py."""

from __future__ import annotations

import os
import time

import pytest

from engine.errors import PolicyError
from engine.sandbox import load_sandbox_policy
from engine.sandbox.container import ContainerSpec
from engine.sandbox.policy import SandboxPolicy
from engine.sandbox.pool import PoolKey, WarmPool

MB = 1 << 20


class StandIn:
    """Just enough of a SandboxContainer for the pool: silent while idle."""

    def __init__(self, name: str) -> None:
        self.id = f"not-a-container-{name}"
        self.jobs = 1
        self.removed = False

    def read(self, timeout: float) -> list:
        return []

    def kill_soon(self) -> None:
        pass

    def remove(self) -> None:
        self.removed = True


def _spec(image: str = "program-engine/program:a") -> ContainerSpec:
    return ContainerSpec(image=image, job_id="j", profile=load_sandbox_policy().profile())


def _pool(**options) -> WarmPool:
    defaults = {"reuse": True, "max_jobs": 3, "idle_seconds": 60, "max_idle_per_program": 8,
                "memory_budget": None, "idle_estimate": 100 * MB}
    return WarmPool(object(), size=1, **{**defaults, **options})


def _give_back(pool: WarmPool, key: PoolKey, name: str) -> StandIn:
    container = StandIn(name)
    pool.take(_spec(key.image), key)  # counts the run; there is nothing idle to take
    pool.release(key, container, reusable=True)
    return container


def test_a_container_serves_only_its_own_key() -> None:
    pool = _pool()
    alice = PoolKey.of(_spec(), "alice", "p@1")
    kept = _give_back(pool, alice, "a")
    assert pool.take(_spec(), PoolKey.of(_spec(), "bob", "p@1")) is None
    assert pool.take(_spec(), PoolKey.of(_spec(), "alice", "p@2")) is None
    assert pool.take(_spec(), alice) is kept
    pool.close()


def test_the_memory_budget_stops_the_least_recently_used_first() -> None:
    pool = _pool(memory_budget=250 * MB)
    keys = [PoolKey.of(_spec(f"img:{n}"), "alice", f"p{n}@1") for n in range(3)]
    first, second, third = (_give_back(pool, key, str(n)) for n, key in enumerate(keys))
    assert first.removed and not second.removed and not third.removed
    assert [entry.container for entry in pool.idle()] == [second, third]
    assert sum(entry.memory for entry in pool.idle()) <= pool.memory_budget
    pool.close()
    assert second.removed and third.removed


def test_at_most_so_many_idle_containers_per_program() -> None:
    pool = _pool(max_idle_per_program=2)
    users = [PoolKey.of(_spec(), user, "p@1") for user in ("a", "b", "c")]
    held = [_give_back(pool, key, key.user) for key in users]
    assert [c.removed for c in held] == [True, False, False]
    other = _give_back(pool, PoolKey.of(_spec("img:other"), "a", "q@1"), "q")
    assert not other.removed
    pool.close()


def test_a_container_that_served_its_most_jobs_or_was_not_clean_goes() -> None:
    pool = _pool(max_jobs=3)
    key = PoolKey.of(_spec(), "alice", "p@1")
    worn = StandIn("worn")
    worn.jobs = 3
    pool.take(_spec(), key)
    pool.release(key, worn, reusable=True)
    dirty = StandIn("dirty")
    pool.take(_spec(), key)
    pool.release(key, dirty, reusable=False)
    assert worn.removed and dirty.removed and pool.ready_count() == 0
    pool.close()


def test_idle_containers_expire() -> None:
    pool = _pool(idle_seconds=0.3)
    kept = _give_back(pool, PoolKey.of(_spec(), "alice", "p@1"), "a")
    deadline = time.monotonic() + 5
    while not kept.removed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kept.removed and pool.ready_count() == 0
    pool.close()


def test_without_reuse_nothing_comes_back() -> None:
    pool = _pool(reuse=False)
    key = PoolKey.of(_spec())
    container = StandIn("a")
    pool.release(key, container, reusable=True)
    assert container.removed and pool.ready_count() == 0
    pool.close()


def test_the_policy_names_a_bad_reuse_setting() -> None:
    from engine.policy_files import validate_policy

    raw = load_sandbox_policy().model_dump(mode="json")
    with pytest.raises(PolicyError, match="reuse_max_jobs"):
        validate_policy(SandboxPolicy, {**raw, "reuse_max_jobs": 0}, "sandbox.yaml")
    with pytest.raises(PolicyError, match="reuse"):
        validate_policy(SandboxPolicy, {**raw, "reuse": "sometimes"}, "sandbox.yaml")


def test_the_default_budget_keeps_idle_containers_under_a_tenth_of_memory() -> None:
    policy = load_sandbox_policy()
    pool = WarmPool.from_policy(object(), policy)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        assert pool.memory_budget is not None and pool.memory_budget < total / 10
    finally:
        pool.close()
