"""Well-formed messages forged straight onto the runner's private protocol descriptors.

User code runs in the runner's process, so it can find the protocol descriptors through
``/proc/self/fd`` and write whole, valid lines to the host, or read what the host sends. The
host must still end every job in exactly one final state with a reason from its own set, keep
every ``backend_run`` behind admission, and show the program nothing but its own replies.
These are tests of the host's relay, not of the wall, so they run once (under runc).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.backends import load_backend_policy

pytestmark = pytest.mark.docker

PROGRAM = "forge_direct"


def _run(sandbox: Any, profile: Any, mode: str, **inputs: Any) -> Any:
    return sandbox.run(sandbox.hostile(PROGRAM), {"mode": mode, **inputs}, profile=profile,
                       max_execution_time=60)


def test_an_early_second_result_the_first_final_message_wins(sandbox, hostile_profile) -> None:
    run = _run(sandbox, hostile_profile, "second_result")
    outcome = run.outcome

    # The program may say what its own result is; it cannot say it twice, nor publish after.
    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "forged-1"
    assert outcome.interim == []
    assert run.wall < 30


def test_a_forged_error_cannot_choose_an_engine_reason(sandbox, hostile_profile) -> None:
    run = _run(sandbox, hostile_profile, "fake_error")
    outcome = run.outcome

    # It names its own exception "OutOfMemory"; the reason is still the program's exception.
    assert (outcome.status, outcome.reason) == ("ERROR", "program_exception")
    assert outcome.error.type == "OutOfMemory"
    assert run.wall < 30  # ended on the forged final message, not after the program's sleep


def test_a_forged_status_and_reason_are_a_protocol_violation(sandbox, hostile_profile) -> None:
    outcome = _run(sandbox, hostile_profile, "fake_status").outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "protocol_violation")
    assert "status: Extra inputs are not permitted" in outcome.error.message
    assert outcome.result is None


def test_raw_backend_runs_bypassing_the_program_backend_meet_admission(
    sandbox, hostile_profile
) -> None:
    outcome = _run(sandbox, hostile_profile, "raw_runs").outcome

    # 301 circuits in one call, 30 qubits, 10**12 shots: each refused before any simulation.
    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "sent"
    assert outcome.metrics["backend_calls"] == 0
    assert outcome.metrics["shots"] == 0


def test_many_raw_backend_runs_in_flight_are_counted_and_the_engine_goes_on(
    sandbox, hostile_profile
) -> None:
    count = 200
    outcome = _run(sandbox, hostile_profile, "many_in_flight", count=count).outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    # Calls past the job's limit of calls in flight are refused; the admitted ones are
    # counted against the job's limits; none is answered to the forger.
    assert count > load_backend_policy().per_job.max_calls_in_flight
    assert 0 < outcome.metrics["backend_calls"] < count
    assert outcome.metrics["shots"] == 16 * outcome.metrics["backend_calls"]
    after = _run(sandbox, hostile_profile, "request_ids").outcome
    assert (after.status, after.reason) == ("DONE", None), after.error
    assert after.result == {"1": 100}


def test_request_id_games(sandbox, hostile_profile) -> None:
    outcome = _run(sandbox, hostile_profile, "request_ids").outcome

    # The same id twice, then a real backend.run: each answered, the real one correctly.
    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == {"1": 100}
    assert outcome.metrics["backend_calls"] == 3

    bad = _run(sandbox, hostile_profile, "bad_request_id").outcome
    assert (bad.status, bad.reason) == ("ERROR", "protocol_violation")
    assert "request_id" in bad.error.message
    assert bad.metrics["backend_calls"] == 0


def test_reading_the_host_to_sandbox_descriptor_shows_only_its_own_replies(
    sandbox, hostile_profile
) -> None:
    outcome = _run(sandbox, hostile_profile, "read_host_fd").outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.metrics["backend_calls"] == 5
    # The read races with the runner's own reader; whatever the program got is a reply to
    # one of its own requests, and nothing else (no start message, no other job's data).
    for line in outcome.result:
        assert line["type"] == "backend_result"
        assert line["request_id"] in {f"peek-{index}" for index in range(5)}
        assert set(line["keys"]) <= {"v", "type", "request_id", "result", "error"}
