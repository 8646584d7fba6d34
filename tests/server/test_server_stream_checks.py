"""Shared token re-checks: one check answers every stream of its key that was due before it."""

from __future__ import annotations

import time

import anyio
import pytest

from engine.errors import AuthenticationError
from engine.server.stream_checks import SharedChecks


def test_streams_due_before_a_check_share_it_and_later_ones_check_again() -> None:
    checks = SharedChecks(keep_seconds=60)
    calls: list[float] = []

    def recheck() -> str:
        calls.append(time.monotonic())
        time.sleep(0.05)
        return "view"

    async def main() -> list[str]:
        due = time.monotonic()
        answers: list[str] = []

        async def one() -> None:
            answers.append(await checks.check("token", due, recheck))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        assert len(calls) == 1  # 20 streams due before it: one store read
        answers.append(await checks.check("token", time.monotonic(), recheck))
        assert len(calls) == 2  # due after the last check started: checked again
        answers.append(await checks.check("other", due, recheck))
        assert len(calls) == 3  # another token is checked on its own
        return answers

    assert anyio.run(main) == ["view"] * 22


def test_a_revoked_token_is_shared_and_an_outage_is_not() -> None:
    checks = SharedChecks(keep_seconds=60)
    outcomes: list[BaseException] = [OSError("store down"), AuthenticationError("revoked")]
    calls = []

    def recheck() -> str:
        calls.append(1)
        raise outcomes[min(len(calls) - 1, 1)]

    async def main() -> None:
        due = time.monotonic()
        with pytest.raises(OSError):
            await checks.check("token", due, recheck)
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                await checks.check("token", due, recheck)
        assert len(calls) == 2  # the outage was asked again; the revocation was shared

    anyio.run(main)
