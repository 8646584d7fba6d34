"""The runtime image's base: ``python:3.11-slim`` when it can be had, else a Debian rootfs.

Hosts that run sandboxes are often air-gapped, and this one has no image registry at all. So
the base is, in order: the configured image (``python:3.11-slim``) if it is present locally;
the Debian bookworm rootfs this module bootstrapped earlier (labelled with its recipe hash);
the configured image pulled within a short, bounded time; and as the fallback a fresh
``debootstrap --variant=minbase`` rootfs with Python and venv, stripped and loaded with the
equivalent of ``docker import``. The rootfs tarball is cached, so re-importing is quick.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag

from engine.errors import ImageBuildError
from engine.policy_files import packaged_dir
from engine.sandbox.wheelhouse import image_arch

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BOOTSTRAP_SCRIPT = "bootstrap-rootfs.sh"
APT_SOURCES = Path("/etc/apt")
#: Image config applied on import; a rootfs tarball carries none.
IMPORT_CHANGES: tuple[str, ...] = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
_LOG_TAIL = 40

Report = Callable[[str], None]
_DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


@dataclass(frozen=True)
class BaseImage:
    """The image the runtime image is built ``FROM``."""

    ref: str
    id: str
    origin: Literal["local", "pulled", "debootstrap"]


def sandbox_images_dir() -> Path:
    """The folder with the Dockerfiles, the bootstrap script and the compatibility modules."""
    return packaged_dir("sandbox_images")


def recipe_hash(arch: str | None = None) -> str:
    """Identity of a bootstrapped rootfs: the script, the suite and the architecture.

    The mirror is not part of it: any mirror of the same suite gives the same system.
    """
    script = (sandbox_images_dir() / BOOTSTRAP_SCRIPT).read_bytes()
    digest = hashlib.sha256(script)
    digest.update(f"\0{SUITE}\0{arch or debian_arch()}\0".encode())
    digest.update("\0".join(IMPORT_CHANGES).encode())
    return digest.hexdigest()


def debian_arch() -> str:
    """Debian's name for the host's architecture."""
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(image_arch(), image_arch())


def host_debian_mirror(apt_dir: Path = APT_SOURCES, suite: str = SUITE) -> str:
    """The Debian archive URL the host's apt uses for ``suite`` (not the security archive).

    Reads one-line ``sources.list`` files and deb822 ``*.sources`` files; falls back to
    ``deb.debian.org``.
    """
    files = [apt_dir / "sources.list"]
    files += sorted((apt_dir / "sources.list.d").glob("*.list"))
    files += sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = _deb822_entries if path.suffix == ".sources" else _one_line_entries
        for uri, suites in parse(text):
            if suite in suites and "security" not in uri and uri.startswith(("http", "file")):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def _one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    entries = []
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            entries.append((line[1], [line[2]]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        entries += [(uri, suites) for uri in fields.get("uris", "").split()]
    return entries


def _local_image(client: docker.DockerClient, ref: str) -> Any | None:
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    except _DOCKER_ERRORS as exc:
        raise ImageBuildError(f"cannot inspect image {ref}: {exc}") from None


def _bootstrapped_image(client: docker.DockerClient, labels: Mapping[str, str]) -> Any | None:
    selector = [f"{key}={value}" for key, value in labels.items()]
    images = client.images.list(filters={"label": selector})
    return max(images, key=lambda image: image.attrs.get("Created", ""), default=None)


def try_pull(client: docker.DockerClient, ref: str, timeout: float, report: Report) -> bool:
    """Pull ``ref`` within ``timeout`` seconds; ``False`` on any failure or on time-out.

    Without a registry the daemon fails the pull at name resolution in milliseconds, but a
    black-holed registry would hang; the pull runs in a daemon thread that is abandoned when
    the time is up.
    """
    repository, tag = parse_repository_tag(ref)
    outcome: dict[str, Any] = {}

    def pull() -> None:
        try:
            for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    outcome["error"] = event["error"]
                    return
            outcome["done"] = True
        except _DOCKER_ERRORS as exc:
            outcome["error"] = str(exc)

    report(f"trying to pull {ref} (at most {timeout:g} s)")
    worker = threading.Thread(target=pull, name="base-image-pull", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        report(f"pulling {ref} did not finish in {timeout:g} s; bootstrapping instead")
        return False
    if "error" in outcome:
        report(f"cannot pull {ref} ({outcome['error'].strip()[:200]}); bootstrapping instead")
        return False
    return _local_image(client, ref) is not None


def bootstrap_rootfs(tarball: Path, mirror: str, report: Report) -> None:
    """Run the bootstrap script, writing the stripped rootfs to ``tarball``."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    script = sandbox_images_dir() / BOOTSTRAP_SCRIPT
    command = ["bash", str(script), SUITE, mirror, str(tarball), debian_arch()]
    report(f"debootstrap {SUITE} (minbase + python3) from {mirror}")
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as exc:
        raise ImageBuildError(f"cannot run {script}: {exc}") from None
    with proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-(_LOG_TAIL - 1) :], line]
            if line.startswith(("I: Retrieving", "I: Extracting", "I: Configuring", "I: rootfs")):
                report(line[3:])
    if proc.returncode != 0:
        raise ImageBuildError(
            f"bootstrapping the Debian {SUITE} rootfs failed (exit {proc.returncode}); "
            "alternatively load a `python:3.11-slim` image into Docker:\n" + "\n".join(tail)
        )


def import_rootfs(
    client: docker.DockerClient,
    tarball: Path,
    repository: str,
    tag: str,
    labels: Mapping[str, str],
) -> str:
    """``docker import`` the tarball with ``labels``; returns the image id."""
    changes = [*IMPORT_CHANGES, *(f'LABEL {key}="{value}"' for key, value in labels.items())]
    try:
        with tarball.open("rb") as source:
            client.api.import_image(src=source, repository=repository, tag=tag, changes=changes)
    except _DOCKER_ERRORS as exc:
        raise ImageBuildError(f"docker import of {tarball} failed: {exc}") from None
    image = _local_image(client, f"{repository}:{tag}")
    if image is None:
        raise ImageBuildError(f"docker import of {tarball} produced no image {repository}:{tag}")
    return image.id


def find_base_image(
    client: docker.DockerClient, *, preferred: str, labels: Mapping[str, str]
) -> BaseImage | None:
    """The base image if one is already here (``preferred``, else a bootstrapped one)."""
    if preferred:
        image = _local_image(client, preferred)
        if image is not None:
            return BaseImage(preferred, image.id, "local")
    image = _bootstrapped_image(client, labels)
    if image is not None:
        ref = image.tags[0] if image.tags else image.id
        return BaseImage(ref, image.id, "debootstrap")
    return None


def ensure_base_image(
    client: docker.DockerClient,
    *,
    preferred: str,
    pull_timeout: float,
    repository: str,
    labels: Mapping[str, str],
    cache_dir: Path,
    mirror: str | None,
    report: Report,
) -> BaseImage:
    """Find or make the base image; see the module docstring for the order.

    ``labels`` must identify the bootstrapped image (kind and recipe hash); ``cache_dir``
    keeps the rootfs tarball; ``preferred`` empty skips the registry entirely.
    """
    found = find_base_image(client, preferred=preferred, labels=labels)
    if found is not None:
        return found
    if preferred and try_pull(client, preferred, pull_timeout, report):
        image = _local_image(client, preferred)
        if image is not None:
            return BaseImage(preferred, image.id, "pulled")
    recipe = recipe_hash()
    tag = f"{SUITE}-{recipe[:12]}"
    tarball = cache_dir / "rootfs" / f"{SUITE}-{debian_arch()}-{recipe[:12]}.tar"
    if tarball.is_file():
        report(f"using the cached rootfs {tarball}")
    else:
        bootstrap_rootfs(tarball, mirror or host_debian_mirror(), report)
    report(f"importing {tarball.name} as {repository}:{tag}")
    image_id = import_rootfs(client, tarball, repository, tag, labels)
    return BaseImage(f"{repository}:{tag}", image_id, "debootstrap")
