"""Results and interim messages checked on arrival, against real sandboxes.

``hostile/raw_payload.py`` sends what ``RuntimeEncoder`` never writes: a lone surrogate,
200,000 levels of nesting, text that is not JSON, arrays that inflate to 1 GiB. A final result
like that ends the job ERROR ``result_invalid``; an interim message is refused and counted
(cheap checks), or kept encoded and refused when read (the bomb). The host's RSS is sampled
through each run, and a normal program runs fine afterwards in the same process.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import RuntimeJobFailure, RuntimeService
from engine.errors import DecodeBudgetExceeded
from tests.programs import SLEEPER_METADATA
from tests.sandbox.test_hostile import _peak_rss_during
from tests.serialization.bombs import vector_bomb

pytestmark = pytest.mark.docker

MiB = 1 << 20
# The most one refused payload may grow the engine process (its budget is 1 GiB in all).
HOST_GROWTH = 200 * MiB


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("surrogate", "lone surrogate"),
        ("deep", "nests deeper than max_depth 100"),
        ("not_json", "not valid JSON"),
        ("array_bomb", "over max_array_bytes"),
        ("noise_model", "40000 errors exceed max_noise_model_errors 2000"),
    ],
)
def test_invalid_result_ends_the_job_as_result_invalid(
    sandbox, hostile_profile, kind: str, message: str
) -> None:
    run, growth = _peak_rss_during(lambda: sandbox.run(
        sandbox.hostile("raw_payload"), {"kind": kind}, profile=hostile_profile,
        max_execution_time=60))
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "result_invalid"), outcome.error
    assert outcome.error.type == "ResultInvalid"
    assert message in outcome.error.message
    assert outcome.result is None and outcome.result_data is None
    outcome.error.message.encode("utf-8")  # storable as it is
    assert growth < HOST_GROWTH, f"host RSS grew by {growth} bytes"


@pytest.mark.parametrize(
    ("kind", "message"),
    [("surrogate", "lone surrogate"), ("deep", "nests deeper than max_depth 100")],
)
def test_invalid_interim_is_refused_and_counted(
    sandbox, hostile_profile, kind: str, message: str
) -> None:
    seen: list[Any] = []
    run = sandbox.run(sandbox.hostile("raw_payload"), {"kind": kind, "how": "publish"},
                      profile=hostile_profile, max_execution_time=60, on_interim=seen.append)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "published"
    assert seen == [] and outcome.interim_data == [] and outcome.interim == []
    assert outcome.metrics["interim_refused"] == 1
    assert outcome.metrics["interim_messages"] == 0
    assert "[1 interim messages refused; the first: " in outcome.logs
    assert message in outcome.logs


def test_interim_array_bomb_is_kept_encoded_and_refused_when_read(
    sandbox, hostile_profile
) -> None:
    run, growth = _peak_rss_during(lambda: sandbox.run(
        sandbox.hostile("raw_payload"), {"kind": "array_bomb", "how": "publish"},
        profile=hostile_profile, max_execution_time=60))
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.metrics["interim_messages"] == 1
    assert len(outcome.interim_data[0]) < 1.5 * MiB  # kept as the 1.4 MB text it arrived as
    with pytest.raises(DecodeBudgetExceeded, match=r"max_array_bytes") as info:
        outcome.interim  # noqa: B018 - decoding happens on read
    assert info.value.limit == "max_array_bytes"
    assert growth < HOST_GROWTH, f"host RSS grew by {growth} bytes"


def test_huge_noise_model_interim_does_not_delay_the_watchdog(sandbox, hostile_profile) -> None:
    limit = 10.0  # time enough to start and publish under load
    run = sandbox.run(sandbox.hostile("raw_payload"),
                      {"kind": "noise_model", "how": "publish", "then": "loop"},
                      profile=hostile_profile, max_execution_time=limit)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("CANCELLED", "ran_too_long")
    assert run.wall < limit + 5, run.wall  # the relay never decoded it
    assert outcome.metrics["interim_messages"] == 1  # kept encoded
    with pytest.raises(DecodeBudgetExceeded, match=r"max_noise_model_errors"):
        outcome.interim  # noqa: B018 - decoding happens on read


def test_the_engine_runs_normal_programs_after_the_refusals(sandbox, hostile_profile) -> None:
    source = ("def main(backend, user_messenger, **kwargs):\n"
              "    user_messenger.publish({'ok': 'caf\\u00e9 \\U0001f600'})\n"
              "    return [1, {'nested': [2.5]}]\n")
    outcome = sandbox.run(source, profile=hostile_profile, max_execution_time=60).outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.interim == [{"ok": "caf\u00e9 \U0001f600"}]
    assert outcome.result == [1, {"nested": [2.5]}]


# --- through the embedded service and its store --------------------------------------------


def test_service_job_with_a_lone_surrogate_result_ends_error_not_running(tmp_path) -> None:
    source = "def main(backend, user_messenger, **kwargs):\n    return 'lone \\ud800'\n"
    with RuntimeService(home=tmp_path / "home", user="alice") as service:
        program_id = service.upload_program(source, {**SLEEPER_METADATA, "name": "surrogate"})
        job = service.run(program_id)
        with pytest.raises(RuntimeJobFailure) as failure:
            job.result(timeout=120)
        assert failure.value.reason == "result_invalid"
        assert job.status().name == "ERROR"
        assert "lone surrogate" in job.error_message()


def test_service_refuses_the_vector_bomb_in_inputs_cheaply(tmp_path) -> None:
    inputs = {"params": json.loads(vector_bomb())}
    with RuntimeService(home=tmp_path / "home", user="alice") as service:
        program_id = service.upload_program(
            "def main(backend, user_messenger, **kwargs):\n    return 1\n",
            {**SLEEPER_METADATA, "name": "takes-anything"})

        def submit() -> DecodeBudgetExceeded:
            with pytest.raises(DecodeBudgetExceeded) as refused:
                service.run(program_id, inputs)
            return refused.value

        refusal, growth = _peak_rss_during(submit)
        assert refusal.limit == "max_parameter_vector_length"
        assert growth < HOST_GROWTH, f"host RSS grew by {growth} bytes"
        assert service.jobs() == []
