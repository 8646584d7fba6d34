"""The runtime image's Python packages: exact pins read from the host, wheels for the image.

The sandbox must run the same qiskit, qiskit-aer, numpy, scipy, pydantic and PyYAML as the host
that serves its ``backend.run`` calls (QPY and ``Result`` dicts cross the wall), so the pins
are the versions installed here, with their whole dependency closure. The wheels are fetched
once with ``pip download --only-binary=:all:`` for the image's platform into a wheelhouse under
the cache folder; the image installs them with ``pip install --no-index``, so the image build
itself needs no network.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from engine.errors import ImageBuildError

#: What programs may import, besides the standard library and the engine's own modules.
RUNTIME_PACKAGES: tuple[str, ...] = ("qiskit", "qiskit-aer", "numpy", "scipy", "pydantic", "pyyaml")

#: The image's interpreter: Debian bookworm's Python, or ``python:3.11-slim``.
PYTHON_VERSION: tuple[int, int] = (3, 11)
#: Newest manylinux glibc the image satisfies (bookworm ships glibc 2.36).
MAX_GLIBC_MINOR = 36
_OLDEST_MANYLINUX_MINOR = 17  # manylinux2014 == manylinux_2_17

Report = Callable[[str], None]


def image_arch() -> str:
    """The wheel architecture of images built here (the Docker host's own)."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def platform_tags(arch: str | None = None) -> list[str]:
    """Every manylinux platform tag the image accepts, newest first.

    pip does not widen ``manylinux_2_28`` to older tags by itself, and some projects
    (rustworkx) publish only ``manylinux2014`` wheels, so all of them are listed.
    """
    arch = arch or image_arch()
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(MAX_GLIBC_MINOR, 16, -1)]
    tags += [f"manylinux2014_{arch}"]
    if arch in ("x86_64", "i686"):
        tags += [f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return tags


def _supported_tags(arch: str | None = None) -> set[Tag]:
    platforms = platform_tags(arch)
    major, minor = PYTHON_VERSION
    interpreter = f"cp{major}{minor}"
    tags = set(cpython_tags(PYTHON_VERSION, abis=[interpreter], platforms=platforms))
    tags |= set(compatible_tags(PYTHON_VERSION, interpreter=interpreter, platforms=platforms))
    return tags


def _target_environment() -> dict[str, str]:
    """Marker environment of the image: the host's, with the image's Python and OS."""
    env = dict(default_environment())
    major, minor = PYTHON_VERSION
    env.update(
        python_version=f"{major}.{minor}",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        platform_system="Linux",
        sys_platform="linux",
        os_name="posix",
        platform_machine=image_arch(),
        extra="",
    )
    if not env["python_full_version"].startswith(f"{major}.{minor}."):
        env["python_full_version"] = f"{major}.{minor}.0"
    return env


def pinned_requirements(roots: Iterable[str] = RUNTIME_PACKAGES) -> dict[str, str]:
    """``{canonical name: version}`` for ``roots`` and everything they need, as installed here.

    Raises :class:`ImageBuildError` naming the package when the host lacks one.
    """
    env = _target_environment()
    pins: dict[str, str] = {}
    pending: list[tuple[str, str | None]] = [(name, None) for name in roots]
    while pending:
        name, needed_by = pending.pop()
        key = canonicalize_name(name)
        if key in pins:
            continue
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            why = f" (needed by {needed_by})" if needed_by else ""
            raise ImageBuildError(
                f"package {name!r}{why} is not installed in the engine's environment "
                f"({sys.prefix}); the runtime image pins the host's versions: run "
                "`bash scripts/setup`"
            ) from None
        pins[key] = dist.version
        for text in dist.requires or ():
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate(env):
                pending.append((req.name, key))
    return dict(sorted(pins.items()))


def requirements_text(pins: Mapping[str, str]) -> str:
    """A requirements file pinning exactly ``pins``."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def find_wheels(directory: Path, pins: Mapping[str, str]) -> tuple[dict[str, Path], list[str]]:
    """The wheel in ``directory`` for each pin, and the pins that have none."""
    supported = _supported_tags()
    found: dict[str, Path] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.whl")):
            try:
                name, version, _build, tags = parse_wheel_filename(path.name)
            except InvalidWheelFilename:
                continue
            if pins.get(name) == str(version) and not tags.isdisjoint(supported):
                found.setdefault(name, path)
    missing = [name for name in pins if name not in found]
    return found, missing


def fill_wheelhouse(
    directory: Path, pins: Mapping[str, str], report: Report | None = None
) -> dict[str, Path]:
    """Make sure ``directory`` holds a wheel for every pin; returns ``{name: wheel path}``.

    Only missing wheels are downloaded (``--no-deps``: the pins are already the whole
    closure), so a filled wheelhouse makes the build work offline.
    """
    report = report or (lambda _message: None)
    found, missing = find_wheels(directory, pins)
    if not missing:
        return found
    directory.mkdir(parents=True, exist_ok=True)
    report(f"downloading {len(missing)} wheels for the image")
    major, minor = PYTHON_VERSION
    command = [
        sys.executable, "-m", "pip", "download",
        "--dest", str(directory),
        "--only-binary=:all:", "--no-deps",
        "--python-version", f"{major}.{minor}",
        "--implementation", "cp",
        "--progress-bar", "off",
        "--disable-pip-version-check",
    ]  # fmt: skip
    for tag in platform_tags():
        command += ["--platform", tag]
    command += [f"{name}=={pins[name]}" for name in missing]
    tail: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-39:], line]
            if line.startswith(("Collecting", "Saved", "File was already")):
                report(line)
    if proc.returncode != 0:
        raise ImageBuildError(
            "pip download of the runtime image's wheels failed "
            f"(exit {proc.returncode}):\n" + "\n".join(tail)
        )
    found, missing = find_wheels(directory, pins)
    if missing:
        raise ImageBuildError(
            f"no wheel for {', '.join(f'{n}=={pins[n]}' for n in missing)} matches the image "
            f"(cp{major}{minor}, {image_arch()}, manylinux up to glibc 2.{MAX_GLIBC_MINOR})"
        )
    return found
