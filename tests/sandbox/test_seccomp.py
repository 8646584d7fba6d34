"""The engine's seccomp profile (``policies/seccomp.json``): what it takes away from Docker's
default, that every change says why, and that every profile applies it.

That the kernel enforces it is shown in ``test_walls.py`` (each call below fails with EPERM
under runc), and that programs still run by the samples in ``test_execution.py``, which run
with the default profile and so under this seccomp profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.policy_files import POLICY_DIR_ENV, policy_dir
from engine.sandbox import load_sandbox_policy
from engine.sandbox.container import ContainerSpec
from engine.sandbox.policy import DEFAULT_SECCOMP, seccomp_profile_text

DENIED = {"io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace",
          "process_vm_readv", "process_vm_writev"}
SOCKET_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"}


@pytest.fixture(scope="module")
def profile() -> dict:
    return json.loads((policy_dir() / DEFAULT_SECCOMP).read_text())


def _allowing(profile: dict, name: str) -> list[dict]:
    return [rule for rule in profile["syscalls"]
            if rule["action"] == "SCMP_ACT_ALLOW" and name in rule["names"]]


def test_everything_not_allowed_fails_with_eperm(profile: dict) -> None:
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "defaultErrnoRet" not in profile  # the default errno: EPERM


@pytest.mark.parametrize("name", sorted(DENIED))
def test_denied_calls_are_allowed_by_no_rule(profile: dict, name: str) -> None:
    assert _allowing(profile, name) == []


def test_socket_is_allowed_for_four_families_only(profile: dict) -> None:
    rules = _allowing(profile, "socket")
    families = set()
    for rule in rules:
        assert rule["names"] == ["socket"]
        assert rule["includes"] == {} and rule["excludes"] == {}  # whatever the capabilities
        (arg,) = rule["args"]
        assert (arg["index"], arg["op"]) == (0, "SCMP_CMP_EQ")
        families.add(arg["value"])
    assert families == set(SOCKET_FAMILIES)
    (pair,) = _allowing(profile, "socketpair")
    assert [(a["index"], a["value"], a["op"]) for a in pair["args"]] == [(0, 1, "SCMP_CMP_EQ")]


def test_every_change_carries_a_comment(profile: dict) -> None:
    changed = [rule for rule in profile["syscalls"] if rule["comment"].startswith("engine:")]
    # The allow list, four socket families, socketpair, and the CAP_SYS_PTRACE rule.
    assert len(changed) == 7
    assert any("Docker 20.10.24" in line for line in profile["comment"])


def test_every_profile_applies_it(profile: dict) -> None:
    policy = load_sandbox_policy()
    text = seccomp_profile_text(DEFAULT_SECCOMP)
    assert json.loads(text) == profile
    for name, resources in policy.profiles.items():
        assert resources.seccomp == DEFAULT_SECCOMP, name
        spec = ContainerSpec(image="x", job_id="j", profile=resources)
        assert spec.security_options() == ["no-new-privileges", f"seccomp={text}"]


def test_a_broken_profile_file_is_a_policy_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY_DIR_ENV, str(tmp_path))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "odd.json").write_text('{"syscalls": []}')
    with pytest.raises(PolicyError, match=r"bad\.json: seccomp profile is not valid JSON"):
        seccomp_profile_text("bad.json")
    with pytest.raises(PolicyError, match=r"odd\.json: a seccomp profile is an object"):
        seccomp_profile_text("odd.json")
    with pytest.raises(PolicyError, match=r"missing\.json: cannot read"):
        seccomp_profile_text("missing.json")
