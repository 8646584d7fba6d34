"""Hostile programs against the real sandbox: each ends in the state and reason it must.

Every program is a file in ``tests/sandbox/hostile/``. Each run also checks that its container
is gone (the ``sandbox`` fixture); the last test checks that no container of this process is
left and that Docker still answers. No program here sends a packet anywhere: the network test
lists interfaces, resolves a name and connects to 192.0.2.1 (TEST-NET-1), which all fail
inside the container before anything is sent (there is no interface but ``lo``).

Wall-time bounds are deliberately generous (limit + 5 s): they catch a watchdog that does not
fire, not a slow machine.

The tests about the wall (limits, escape attempts) take ``wall_profile`` and so run under runc
and under gVisor's runsc; the tests of the host's relay run once, under runc.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.errors import DecodeError
from engine.sandbox import ResourceProfile, SandboxPolicy, load_sandbox_policy

pytestmark = pytest.mark.docker

MiB = 1 << 20
TIME_LIMIT = 3.0  # max_execution_time of the programs that never end on their own
WALL_SLACK = 5.0  # how far past the limit a run may end before the watchdog counts as broken


def _policy(**protocol: Any) -> SandboxPolicy:
    """The sandbox policy with some protocol limits replaced."""
    policy = load_sandbox_policy()
    return policy.model_copy(update={"protocol": policy.protocol.model_copy(update=protocol)})


def _walk(value: Any) -> Iterator[Any]:
    """``value`` and everything nested in its lists, tuples and dicts."""
    yield value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key)
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


# --- exhaustion ----------------------------------------------------------------------------


def test_fork_bomb_hits_the_pids_limit_and_ends(sandbox, wall_profile, wall) -> None:
    run = sandbox.run(sandbox.hostile("fork_bomb"), profile=wall_profile,
                      max_execution_time=30)
    outcome = run.outcome

    assert run.wall < 30
    if wall == "runsc":
        # Under gVisor every program process is a process of the Sentry and costs it memory
        # and host threads: the sandbox runs out of one of them and ends as a whole.
        assert (outcome.status, outcome.reason) in {
            ("ERROR", "out_of_memory"), ("ERROR", "sandbox_crashed")}, outcome.error
        return
    assert (outcome.status, outcome.reason) == ("ERROR", "program_exception")
    # fork() failed with EAGAIN: the pids limit held, and the failure ended the job.
    assert outcome.error.type == "BlockingIOError"
    assert "Resource temporarily unavailable" in outcome.error.message
    assert "fork_bomb.py" in outcome.error.traceback


def test_memory_bomb_ends_out_of_memory(sandbox, wall_profile) -> None:
    run = sandbox.run(sandbox.hostile("memory_bomb"), profile=wall_profile,
                      max_execution_time=30)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "out_of_memory")
    assert outcome.error.type == "OutOfMemory"
    assert str(int(wall_profile.memory)) in outcome.error.message
    assert run.wall < 30


@pytest.mark.parametrize("name", ["busy_loop", "sigterm_sleeper"])
def test_endless_program_is_killed_at_max_execution_time(
    sandbox, wall_profile, name: str
) -> None:
    run = sandbox.run(sandbox.hostile(name), profile=wall_profile,
                      max_execution_time=TIME_LIMIT)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("CANCELLED", "ran_too_long")
    assert outcome.error.type == "RanTooLong"
    assert f"{TIME_LIMIT:g} s" in outcome.error.message
    assert outcome.result is None
    assert TIME_LIMIT <= run.wall < TIME_LIMIT + WALL_SLACK, run.wall


@pytest.mark.parametrize(
    ("directory", "size_field", "first_stop"),
    [
        # The fsize ulimit (8 MiB) stops the first file before the 16 MiB tmpfs is full.
        ("/tmp", "tmp_size", "EFBIG"),
        # /dev/shm (4 MiB) is smaller than fsize: the tmpfs itself is full first.
        ("/dev/shm", "shm_size", "ENOSPC"),
    ],
)
def test_filling_a_tmpfs_stops_at_its_limits(
    sandbox, wall_profile, docker, directory: str, size_field: str, first_stop: str
) -> None:
    run = sandbox.run(sandbox.hostile("fill_tmp"), {"directory": directory},
                      profile=wall_profile, max_execution_time=30)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    report = outcome.result
    size = int(getattr(wall_profile, size_field))
    assert report["size_bytes"] == size
    assert report["first_stop"] == first_stop
    assert report["stops"][-1] == "ENOSPC"
    if first_stop == "EFBIG":
        assert report["first_file_bytes"] == int(wall_profile.fsize)
    assert report["first_file_bytes"] <= size
    assert size - MiB <= report["total_bytes"] <= size
    assert docker.ping()


def test_double_forked_child_does_not_keep_the_job_alive(sandbox, wall_profile) -> None:
    run = sandbox.run(sandbox.hostile("double_fork"), profile=wall_profile,
                      max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result["left_behind"] is True
    # The grandchild sleeps for 600 s; the job ended long before that, container and all.
    assert run.wall < 15, run.wall


# --- output and protocol -------------------------------------------------------------------


def test_stdout_flood_is_capped_and_the_job_finishes(sandbox, hostile_profile) -> None:
    megabytes = 200
    run = sandbox.run(sandbox.hostile("stdout_flood"), {"megabytes": megabytes},
                      profile=hostile_profile, max_execution_time=60)
    outcome = run.outcome
    cap = int(load_sandbox_policy().logs.max_bytes)

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "survived the flood"
    kept, _, note = outcome.logs.rpartition("\n[")
    assert len(kept.encode()) <= cap
    assert len(outcome.logs.encode()) < cap + 200
    assert note.endswith("more bytes of logs discarded]\n")
    discarded = int(note.split()[0])
    assert discarded + len(kept.encode()) >= megabytes * MiB


@pytest.mark.parametrize("via", ["print", "sys_stdout", "sys_dunder_stdout", "fd1"])
def test_forged_protocol_lines_on_stdout_do_not_count(sandbox, hostile_profile, via: str) -> None:
    run = sandbox.run(sandbox.hostile("forge_protocol"), {"via": via},
                      profile=hostile_profile, max_execution_time=30)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "real result"
    assert outcome.interim == ["real interim"]
    assert outcome.error is None
    assert outcome.metrics["interim_messages"] == 1
    # The forged lines went where a program's output goes: the logs.
    assert '"type": "result"' in outcome.logs and "forged result" in outcome.logs
    assert '"type": "error"' in outcome.logs


def test_garbage_on_the_private_protocol_fd_is_a_protocol_violation(
    sandbox, hostile_profile
) -> None:
    run = sandbox.run(sandbox.hostile("protocol_fd_garbage"), {"what": "garbage"},
                      profile=hostile_profile, max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "protocol_violation")
    assert outcome.error.type == "ProtocolViolation"
    assert "not valid JSON" in outcome.error.message
    assert re.search(r"writing garbage to fds \[\d+", outcome.logs)  # it found a candidate
    assert outcome.result is None
    assert run.wall < 30  # the host ended it; the program itself sleeps 30 s


def test_overlong_line_on_the_protocol_fd_is_a_protocol_violation(
    sandbox, hostile_profile
) -> None:
    policy = _policy(max_line_bytes=MiB)
    run = sandbox.run(sandbox.hostile("protocol_fd_garbage"),
                      {"what": "long_line", "megabytes": 2},
                      profile=hostile_profile, max_execution_time=60, policy=policy)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "protocol_violation")
    assert f"longer than the limit of {MiB} bytes" in outcome.error.message
    assert run.wall < 30


def _peak_rss_during(action: Any) -> tuple[Any, int]:
    """Run ``action()`` while sampling this process's RSS; return its value and the growth."""
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        value = action()
    finally:
        done.set()
        sampler.join()
    return value, max(peak, process.memory_info().rss) - before


@pytest.mark.parametrize(
    ("how", "reason", "error_type"),
    [
        ("publish", "program_exception", "EncodeError"),
        ("result", "result_not_serializable", "ResultNotSerializable"),
    ],
)
def test_200_mb_value_is_refused_as_too_large_without_host_memory(
    sandbox, hostile_profile, how: str, reason: str, error_type: str
) -> None:
    program = sandbox.hostile("huge_value")
    # A 1 MB value crosses fine (and warms up every host-side import of the relay).
    small = sandbox.run(program, {"megabytes": 1, "how": how}, profile=hostile_profile,
                        max_execution_time=60).outcome
    assert small.status == "DONE", small.error
    received = small.interim[0] if how == "publish" else small.result
    assert received == "x" * 1_000_000

    run, growth = _peak_rss_during(lambda: sandbox.run(
        program, {"megabytes": 200, "how": how}, profile=hostile_profile,
        max_execution_time=60))
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", reason)
    assert outcome.error.type == error_type
    assert "too large" in outcome.error.message
    # Refused before encoding: the sandbox (512 MiB) did not run out of memory, and the
    # host never held the payload.
    assert outcome.reason != "out_of_memory"
    assert outcome.metrics["protocol_bytes"] < MiB
    assert growth < 64 * MiB, f"host RSS grew by {growth} bytes"


def test_flood_of_small_publishes_is_capped(sandbox, hostile_profile) -> None:
    cap, count = 50, 2000
    run = sandbox.run(sandbox.hostile("publish_flood"), {"count": count},
                      profile=hostile_profile, max_execution_time=60,
                      policy=_policy(max_interim_messages=cap))
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == count
    assert outcome.interim == [{"index": index} for index in range(cap)]
    assert outcome.metrics["interim_messages"] == cap
    assert outcome.metrics["interim_dropped"] == count - cap


def test_result_that_cannot_be_serialised_is_a_clear_error(sandbox, hostile_profile) -> None:
    run = sandbox.run(sandbox.hostile("unserializable_result"), profile=hostile_profile,
                      max_execution_time=30)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "result_not_serializable")
    assert outcome.error.type == "ResultNotSerializable"
    assert "lock is not JSON serializable" in outcome.error.message
    assert "a result must be encodable with RuntimeEncoder" in outcome.error.message
    assert outcome.result is None


def test_published_settings_payload_naming_popen_is_never_built(
    sandbox, hostile_profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    popen_calls: list[Any] = []
    real_init = subprocess.Popen.__init__

    def spy(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
        popen_calls.append((args, kwargs))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    run = sandbox.run(sandbox.hostile("settings_popen"), {"marker": str(marker)},
                      profile=hostile_profile, max_execution_time=30)
    outcome = run.outcome

    # The interim message is kept encoded; reading it refuses the payload's class, which is
    # not on the allowlist.
    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert len(outcome.interim_data) == 1 and outcome.result == "published"
    with pytest.raises(DecodeError, match=r"subprocess.Popen is not on the settings allowlist"):
        outcome.interim  # noqa: B018 - decoding happens on read
    assert not any(isinstance(item, subprocess.Popen) for item in _walk(outcome.result))
    assert not any(str(marker) in repr(call) for call in popen_calls)
    assert not marker.exists()


# --- backend admission ---------------------------------------------------------------------


def test_40_qubits_and_a_billion_shots_are_refused_and_catchable(
    sandbox, hostile_profile
) -> None:
    run = sandbox.run(sandbox.hostile("huge_circuit"), {"catch": True},
                      profile=hostile_profile, max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    shots_refusal, qubits_refusal = outcome.result
    assert shots_refusal["type"] == "BackendRejected"
    assert shots_refusal["limit"] == "max_shots"
    assert "1000000000 shots exceed admission.max_shots" in shots_refusal["message"]
    assert qubits_refusal["type"] == "BackendRejected"
    assert qubits_refusal["limit"].startswith("max_qubits.")
    assert "40 qubits exceeds admission.max_qubits" in qubits_refusal["message"]
    # Refused by admission: nothing was simulated or counted against the job.
    assert outcome.metrics["backend_calls"] == 0
    assert outcome.metrics["shots"] == 0


def test_uncaught_admission_refusal_ends_as_backend_rejected(sandbox, hostile_profile) -> None:
    run = sandbox.run(sandbox.hostile("huge_circuit"), {"catch": False},
                      profile=hostile_profile, max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "backend_rejected")
    assert outcome.error.type == "BackendRejected"
    assert "admission.max_shots" in outcome.error.message
    assert outcome.metrics["backend_calls"] == 0


# --- escape attempts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_secret() -> Iterator[tuple[str, str]]:
    """A variable set in this (host) process's environment while the probe runs."""
    name = f"ENGINE_TEST_HOST_SECRET_{uuid.uuid4().hex[:8].upper()}"
    value = f"secret-{uuid.uuid4().hex}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, value)
        yield name, value


@pytest.fixture(scope="module")
def probe(sandbox, wall_profile: ResourceProfile, host_secret: tuple[str, str]) -> dict:
    """What ``escape_probe`` saw from inside the container (one run for all escape tests)."""
    run = sandbox.run(sandbox.hostile("escape_probe"), profile=wall_profile,
                      max_execution_time=60)
    assert (run.outcome.status, run.outcome.reason) == ("DONE", None), run.outcome.error
    return run.outcome.result


def test_root_filesystem_is_read_only(probe: dict, wall: str) -> None:
    assert "ro" in probe["mounts"]["/"]
    assert probe["writes"], "the probe tried some paths"
    # gVisor checks the file's permissions before the mount's read-only flag: EACCES first.
    expected = {"EROFS"} if wall == "runc" else {"EROFS", "EACCES"}
    assert set(probe["writes"].values()) <= expected, probe["writes"]


def test_host_environment_is_not_visible(probe: dict, host_secret: tuple[str, str]) -> None:
    name, value = host_secret
    assert os.environ[name] == value  # set on the host while the probe ran
    assert name not in probe["environ"]
    assert not any(value in text for text in probe["environ"].values())
    assert "PYTEST_CURRENT_TEST" in os.environ and "PYTEST_CURRENT_TEST" not in probe["environ"]


def test_docker_socket_is_absent(probe: dict) -> None:
    assert probe["docker_socket"], "the probe looked for it"
    assert not any(probe["docker_socket"].values()), probe["docker_socket"]
    assert probe["unix_sockets"] == []


def test_setuid_0_is_refused(probe: dict, wall: str) -> None:
    assert probe["setuid"] == "PermissionError"
    status = probe["status"]
    # Under runc the engine's seccomp filter is in force (mode 2). Under runsc the program's
    # calls go to gVisor's Sentry, which applies no filter of Docker's to the program (see
    # the README's "Two walls"): its /proc reports mode 0.
    assert status["Seccomp"] == ("2" if wall == "runc" else "0")
    # Nothing for an exec to pick up. gVisor's /proc/self/status lists fewer capability sets
    # than Linux's: what it lists must be empty, and runc's must list both.
    for key in ("CapAmb", "CapInh"):
        assert key in status or wall == "runsc", key
        assert int(status.get(key, "0"), 16) == 0, key


def test_runs_as_uid_10001_without_capabilities(probe: dict, wall: str) -> None:
    assert (probe["uid"], probe["euid"], probe["gid"]) == (10001, 10001, 10001)
    status = probe["status"]
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapPrm"], 16) == 0
    assert int(status["CapBnd"], 16) == 0
    # gVisor's /proc/self/status has no NoNewPrivs line (the setuid test shows the effect).
    assert status.get("NoNewPrivs") == ("1" if wall == "runc" else None)


def test_there_is_no_network(probe: dict, wall: str) -> None:
    assert probe["interfaces"] == ["lo"]
    assert probe["routes"] == []  # not even a default route
    assert probe["resolve"] == "gaierror"  # name resolution failed inside the container
    # No route to TEST-NET-1, so connect fails before any packet is sent: the host kernel
    # says "network unreachable", gVisor's netstack "host unreachable".
    assert probe["connect"] == ("ENETUNREACH" if wall == "runc" else "EHOSTUNREACH")


def test_killing_pid_1_does_not_stop_the_job(sandbox, wall_profile, wall) -> None:
    run = sandbox.run(sandbox.hostile("kill_pid1"), profile=wall_profile,
                      max_execution_time=30)
    outcome = run.outcome

    if wall == "runsc":
        # gVisor delivers the SIGKILL to the sandbox's init: the program ends its own
        # sandbox, and with it its own job, and nothing else.
        assert (outcome.status, outcome.reason) == ("ERROR", "sandbox_crashed"), outcome.error
        assert run.wall < 30
        return
    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    # The signal is refused, or delivered and ignored by the init process; either way PID 1
    # is still the init process and the program is not PID 1.
    assert outcome.result["kill"] in {"PermissionError", "sent"}
    assert outcome.result["pid1"] == "docker-init"
    assert outcome.result["my_pid"] != 1


# --- program errors ------------------------------------------------------------------------


def test_raised_exception_comes_back_as_program_exception(sandbox, hostile_profile) -> None:
    run = sandbox.run(sandbox.hostile("raise_value_error"), {"value": 42},
                      profile=hostile_profile, max_execution_time=30)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "program_exception")
    assert outcome.error.type == "ValueError"
    assert outcome.error.message == "boom 42"
    assert "raise_value_error.py" in outcome.error.traceback
    assert 'raise ValueError(f"boom {value}")' in outcome.error.traceback
    assert outcome.error.traceback.rstrip().endswith("ValueError: boom 42")
    # It starts at the program's own code: no frame of the runner around main().
    frames = [line for line in outcome.error.traceback.splitlines()
              if line.lstrip().startswith('File "')]
    assert "raise_value_error.py" in frames[0] and "in main" in frames[0], frames
    assert "runner.py" not in outcome.error.traceback


# --- afterwards ----------------------------------------------------------------------------


def test_no_sandbox_container_is_left_and_docker_answers(sandbox, docker) -> None:
    """Runs last in this module: every container this process created is gone."""
    assert docker.ping()
    assert sandbox.containers() == []
    assert docker.api.version()["ApiVersion"]
