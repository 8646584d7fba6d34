"""OCI runtimes of the sandbox: which one a job uses, whether Docker has it, how to add it.

The default wall is runc, Docker's own runtime. gVisor (``runsc``) is a second wall: its
kernel in user space (the Sentry) answers the program's system calls, so the host kernel sees
only the Sentry's small, filtered set. A resource profile names its runtime in
``policies/sandbox.yaml`` (``runtime: runsc``); ``ENGINE_SANDBOX_RUNTIME`` overrides every
profile. A runtime the daemon does not list, or one that cannot start a container, is a
:class:`~engine.errors.SandboxUnavailable` saying how to install it, never a crashed job.

``scripts/setup`` registers runsc with :func:`register_runtime` (run with ``python -m
engine.sandbox.runtimes``), merging into the daemon's existing ``daemon.json``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import SandboxUnavailable

DEFAULT_RUNTIME = "runc"
GVISOR = "runsc"
# runsc's arguments when Docker starts it. `--network=none`: Docker already gives the sandbox
# no network, and without this flag runsc tries to set up its own and the container fails to
# start, leaving a shim behind. Not `--oci-seccomp`: with it, this runsc (Debian's 20221219)
# applies Docker's seccomp profile inside the Sentry and NumPy's import dies with SIGINT, with
# Docker's default profile as with the engine's. So under runsc the profile's seccomp is not
# applied to the program; the Sentry answers its system calls and is itself filtered.
GVISOR_ARGS = ("--network=none",)
DAEMON_JSON = Path("/etc/docker/daemon.json")

_HOW_TO_INSTALL = {
    GVISOR: "run `bash scripts/setup` as root (it installs Debian's `runsc` package, registers "
    "it in /etc/docker/daemon.json under \"runtimes\" with runtimeArgs "
    f"{list(GVISOR_ARGS)} and reloads dockerd)",
}


def how_to_install(name: str) -> str:
    """One sentence on how to make runtime ``name`` available to Docker."""
    return _HOW_TO_INSTALL.get(
        name, f"register {name!r} under \"runtimes\" in the daemon's daemon.json and reload it"
    )


def effective_runtime(override: str | None, profile_runtime: str | None) -> str | None:
    """The runtime a container gets: the global override, else the profile's, else Docker's
    default (``None``)."""
    return override or profile_runtime or None


def daemon_runtimes(client: Any) -> dict[str, Any]:
    """The runtimes the daemon knows (``docker info``'s ``Runtimes``)."""
    try:
        runtimes = client.info().get("Runtimes") or {}
    except Exception as exc:  # the daemon went away: the same answer as no daemon
        raise SandboxUnavailable(f"Docker cannot be asked for its runtimes ({exc})") from None
    return dict(runtimes)


def check_runtime(client: Any, name: str | None) -> None:
    """Raise :class:`SandboxUnavailable` unless the daemon lists runtime ``name`` (``None``
    is Docker's default runtime, always there)."""
    if name is None:
        return
    known = daemon_runtimes(client)
    if name not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise SandboxUnavailable(
            f"the sandbox runtime {name!r} is not registered with Docker (it has: {listed}); "
            f"{how_to_install(name)}"
        )


def configured_runtimes(policy: Any = None, override: str | None = None) -> set[str]:
    """Every runtime a job may need: each profile's, or the global override."""
    from engine.sandbox.policy import load_sandbox_policy
    from engine.settings import get_settings

    policy = policy or load_sandbox_policy()
    override = override or get_settings().sandbox_runtime
    named = {effective_runtime(override, profile.runtime) for profile in policy.profiles.values()}
    return {name for name in named if name is not None}


def check_configured_runtimes(client: Any, policy: Any = None) -> None:
    """Raise :class:`SandboxUnavailable` naming the first configured runtime Docker lacks
    (what ``/readyz`` checks at start-up)."""
    needed = configured_runtimes(policy)
    if not needed:
        return
    known = daemon_runtimes(client)
    for name in sorted(needed - set(known)):
        check_runtime(client, name)


def unavailable_runtime(name: str | None, detail: str) -> SandboxUnavailable:
    """The error for a runtime that is registered but could not start a container."""
    shown = name or DEFAULT_RUNTIME
    return SandboxUnavailable(
        f"the sandbox runtime {shown!r} could not start a container ({detail}); "
        f"{how_to_install(shown)}"
    )


def merged_daemon_config(config: dict[str, Any], name: str, path: str,
                         args: tuple[str, ...]) -> dict[str, Any]:
    """``config`` (a parsed daemon.json) with runtime ``name`` registered; every other key,
    and every other runtime, kept as it was."""
    merged = dict(config)
    runtimes = dict(merged.get("runtimes") or {})
    runtimes[name] = {"path": path, "runtimeArgs": list(args)}
    merged["runtimes"] = runtimes
    return merged


def register_runtime(name: str, path: str, args: tuple[str, ...],
                     daemon_json: Path = DAEMON_JSON) -> bool:
    """Register ``name`` in ``daemon_json``, written atomically; return whether it changed."""
    try:
        text = daemon_json.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    config = json.loads(text) if text.strip() else {}
    if not isinstance(config, dict):
        raise ValueError(f"{daemon_json}: not a JSON object")
    merged = merged_daemon_config(config, name, path, args)
    if merged == config:
        return False
    daemon_json.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=daemon_json.parent, prefix=".daemon.json.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(merged, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, daemon_json)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def main(argv: list[str]) -> int:
    """``python -m engine.sandbox.runtimes register PATH [DAEMON_JSON]``: register runsc;
    print ``changed`` or ``unchanged``. ``... check NAME``: exit 0 when Docker lists it."""
    if len(argv) >= 2 and argv[0] == "register":
        target = Path(argv[2]) if len(argv) > 2 else DAEMON_JSON
        print("changed" if register_runtime(GVISOR, argv[1], GVISOR_ARGS, target)
              else "unchanged")
        return 0
    if len(argv) == 2 and argv[0] == "check":
        from engine.sandbox.docker_client import connect

        try:
            check_runtime(connect(timeout=10), argv[1])
        except SandboxUnavailable as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
