"""The sandbox's walls under each OCI runtime: kernel surfaces, the CPU quota, open files,
a program ending its own process, the accounting; and the runtime checks themselves.

Every test here that runs a program takes ``wall_profile``, so it runs under runc (with the
engine's seccomp profile) and under gVisor's runsc. Under runsc the program's system calls are
served by gVisor's Sentry, not by the host kernel: a call the Sentry implements for the
sandbox alone (ptrace of its own children, its own io_uring, a mount namespace of its own)
is allowed there and reaches nothing outside; that is the difference the README lists.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import SandboxUnavailable
from engine.sandbox.runtimes import (
    GVISOR_ARGS,
    check_configured_runtimes,
    check_runtime,
    merged_daemon_config,
    register_runtime,
)

PROGRAM_SOURCE = Path(__file__).resolve().parents[2] / "program_source"
DENIED_BY_SECCOMP = [
    "ptrace_traceme", "process_vm_readv", "process_vm_writev", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "af_vsock", "af_packet",
]
CLOSED_BY_DOCKER = ["unshare_user", "unshare_mount", "mount_tmpfs", "keyctl", "bpf",
                    "userfaultfd", "perf_event_open"]
# Answered by gVisor's Sentry for the sandbox alone; the host kernel never sees them.
SERVED_BY_THE_SENTRY = {"ptrace_traceme", "io_uring_setup", "unshare_mount"}


@pytest.fixture(scope="module")
def host_abstract_socket() -> Iterator[str]:
    """An abstract unix socket listening in the host's network namespace."""
    name = f"engine-test-{uuid.uuid4().hex[:12]}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(1)
    try:
        yield name
    finally:
        server.close()


@pytest.fixture(scope="module")
def kernel(sandbox, wall_profile, host_abstract_socket: str) -> dict:
    """What ``kernel_probe`` got from each surface (one run per wall)."""
    run = sandbox.run(sandbox.hostile("kernel_probe"), {"abstract_name": host_abstract_socket},
                      profile=wall_profile, max_execution_time=60)
    assert (run.outcome.status, run.outcome.reason) == ("DONE", None), run.outcome.error
    return run.outcome.result


@pytest.mark.docker
def test_kernel_surfaces_are_closed(kernel: dict, wall: str) -> None:
    for name in DENIED_BY_SECCOMP + CLOSED_BY_DOCKER:
        if wall == "runc":
            assert kernel[name] == "EPERM", (name, kernel[name])
        elif name not in SERVED_BY_THE_SENTRY:
            assert kernel[name] != "allowed", (name, kernel[name])
    # The families a program needs still open (a socket, not a route: there is no network).
    assert (kernel["af_inet"], kernel["af_unix"]) == ("allowed", "allowed")


@pytest.mark.docker
def test_sysrq_and_cgroup_files_cannot_be_written(kernel: dict) -> None:
    assert kernel["sysrq_trigger"] in {"ENOENT", "EROFS", "EACCES"}
    assert kernel["cgroup_writes"], "the probe tried something under /sys/fs/cgroup"
    assert set(kernel["cgroup_writes"].values()) <= {"EROFS", "EACCES", "ENOENT"}, (
        kernel["cgroup_writes"])


@pytest.mark.docker
def test_host_abstract_unix_sockets_are_out_of_reach(kernel: dict) -> None:
    # The host's socket listens; from the sandbox's own network namespace it does not exist.
    assert kernel["abstract_connect"] == "ECONNREFUSED"
    assert kernel["abstract_bind"] == "allowed"  # its own, in its own namespace: harmless


@pytest.mark.docker
def test_cpu_quota_holds_four_busy_threads_to_one_cpu(sandbox, wall_profile, wall) -> None:
    assert wall_profile.cpus == 1.0
    seconds = 4.0
    run = sandbox.run(sandbox.hostile("busy_threads"), {"threads": 4, "seconds": seconds},
                      profile=wall_profile, max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    report = outcome.result
    # This host has two cores: unthrottled, four hashing threads use about 2 CPU-s per second.
    assert (os.cpu_count() or 1) >= 2
    assert report["wall_seconds"] >= seconds
    # The container's cgroup: at most about one CPU-second per second of the container's life
    # (which is shorter than the job's wall time).
    metrics = outcome.metrics
    assert 0.2 * seconds <= metrics["cpu_seconds"] <= 1.2 * metrics["wall_seconds"], metrics
    if wall == "runc":
        # The program's own count agrees. (gVisor's in-sandbox CPU times are the Sentry's
        # estimate and are not bounded by the host's quota: the cgroup figure above is.)
        assert report["cpu_seconds"] <= 1.2 * report["wall_seconds"], report


@pytest.mark.docker
def test_exhausting_open_files_then_a_normal_job(sandbox, wall_profile) -> None:
    import psutil

    def normal_job() -> None:
        after = sandbox.run(sandbox.hostile("raise_value_error"), {"value": 42},
                            profile=wall_profile, max_execution_time=60).outcome
        assert (after.status, after.reason) == ("ERROR", "program_exception")
        assert after.error.message == "boom 42"

    normal_job()  # warms up the host's lazily opened connections (Docker's pool)
    normal_job()
    fds_before = psutil.Process().num_fds()
    run = sandbox.run(sandbox.hostile("open_files"), profile=wall_profile,
                      max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result["stop"] == "EMFILE"
    assert wall_profile.nofile - 64 <= outcome.result["opened"] < wall_profile.nofile
    normal_job()
    # The host holds no descriptor per sandbox descriptor (a pooled connection or two may come).
    assert psutil.Process().num_fds() <= fds_before + 10


@pytest.mark.docker
@pytest.mark.parametrize("how", ["exit0", "sigkill"])
def test_a_program_ending_its_own_process_is_sandbox_crashed(
    sandbox, wall_profile, how: str
) -> None:
    run = sandbox.run(sandbox.hostile("self_kill"), {"how": how}, profile=wall_profile,
                      max_execution_time=60)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("ERROR", "sandbox_crashed"), outcome.error
    assert outcome.error.type == "SandboxCrashed"
    assert outcome.interim == ["about to go"]
    assert outcome.result is None
    assert run.wall < 30


@pytest.mark.docker
def test_hello_world_runs_with_accounting(sandbox, wall_profile) -> None:
    run = sandbox.run(PROGRAM_SOURCE / "hello_world", {"iterations": 1}, profile=wall_profile,
                      max_execution_time=120)
    outcome = run.outcome

    assert (outcome.status, outcome.reason) == ("DONE", None), outcome.error
    assert outcome.result == "Hello, World!"
    # Under runsc the cgroup holds gVisor's Sentry and gofer too: their time and memory count.
    assert 0 < outcome.metrics["cpu_seconds"] < 60
    assert 16 << 20 < outcome.metrics["peak_memory_bytes"] <= int(wall_profile.memory)


# --- the runtime checks --------------------------------------------------------------------


@pytest.mark.docker
def test_an_unregistered_runtime_is_sandbox_unavailable_per_job(sandbox, hostile_profile) -> None:
    profile = hostile_profile.model_copy(update={"runtime": "no-such-runtime"})
    job_id = sandbox.new_job_id()
    with pytest.raises(SandboxUnavailable, match=r"'no-such-runtime'.*daemon\.json"):
        sandbox.run(PROGRAM_SOURCE / "hello_world", {"iterations": 1}, profile=profile,
                    job_id=job_id, max_execution_time=60)
    assert sandbox.containers(job_id) == []


@pytest.mark.docker
def test_readiness_names_a_missing_runtime(docker) -> None:
    from engine.sandbox import load_sandbox_policy

    policy = load_sandbox_policy()
    broken = policy.model_copy(update={"profiles": {
        **policy.profiles,
        "odd": policy.profile().model_copy(update={"runtime": "no-such-runtime"})}})
    with pytest.raises(SandboxUnavailable, match="'no-such-runtime' is not registered"):
        check_configured_runtimes(docker, broken)
    check_configured_runtimes(docker, policy)  # the shipped policy's runtimes are there
    check_runtime(docker, "runsc")


def test_registering_runsc_merges_into_daemon_json(tmp_path: Path) -> None:
    existing = {"log-level": "warn", "runtimes": {"other": {"path": "/bin/other"}}}
    merged = merged_daemon_config(existing, "runsc", "/usr/bin/runsc", GVISOR_ARGS)
    assert merged["log-level"] == "warn"
    assert merged["runtimes"]["other"] == {"path": "/bin/other"}
    assert merged["runtimes"]["runsc"] == {"path": "/usr/bin/runsc",
                                           "runtimeArgs": ["--network=none"]}
    assert existing["runtimes"] == {"other": {"path": "/bin/other"}}  # not changed in place

    target = tmp_path / "daemon.json"
    target.write_text(json.dumps(existing))
    assert register_runtime("runsc", "/usr/bin/runsc", GVISOR_ARGS, target) is True
    assert json.loads(target.read_text()) == merged
    assert register_runtime("runsc", "/usr/bin/runsc", GVISOR_ARGS, target) is False
    fresh = tmp_path / "new" / "daemon.json"
    assert register_runtime("runsc", "/usr/bin/runsc", GVISOR_ARGS, fresh) is True
    assert json.loads(fresh.read_text()) == {"runtimes": {"runsc": merged["runtimes"]["runsc"]}}


def test_profile_names_its_runtime_and_seccomp_file_by_the_rules() -> None:
    from engine.errors import PolicyError
    from engine.policy_files import validate_policy
    from engine.sandbox import SandboxPolicy, load_sandbox_policy
    from engine.sandbox.container import ContainerSpec

    policy = load_sandbox_policy()
    data = policy.model_dump()
    for field, value in (("runtime", "runsc --debug"), ("seccomp", "../etc/profile.json"),
                         ("seccomp", "profile.yaml")):
        broken = {**data, "profiles": {"p": {**data["profiles"]["default"], field: value}},
                  "default_profile": "p"}
        with pytest.raises(PolicyError, match=rf"profiles\.p\.{field}"):
            validate_policy(SandboxPolicy, broken, "sandbox.yaml")
    gvisor = policy.profile("gvisor")
    assert gvisor.runtime == "runsc"
    overhead = policy.runtime_pids_overhead["runsc"]
    assert ContainerSpec(image="x", job_id="j", profile=gvisor).pids_limit == (
        gvisor.pids + overhead)
    plain = ContainerSpec(image="x", job_id="j", profile=policy.profile())
    assert (plain.effective_runtime, plain.pids_limit) == (None, policy.profile().pids)
    # The global override wins over the profile's runtime.
    assert ContainerSpec(image="x", job_id="j", profile=gvisor,
                         runtime="runc").effective_runtime == "runc"
