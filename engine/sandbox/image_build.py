"""Building an image with the Docker SDK: contexts, the build stream, errors and locking.

The mechanics shared by the runtime and per-program images (:mod:`engine.sandbox.images`):
a build context with normalised file metadata, a classic ``docker build`` without network
whose log feeds a progress callback and, on failure, the error, and Docker failures turned
into the engine's errors.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import docker
import docker.errors
import requests.exceptions

from engine.errors import ImageBuildError, SandboxUnavailable

LOG_TAIL_LINES = 40
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
_HOW_TO_FIX = "run `bash scripts/setup` or start the daemon (as root: `dockerd &`)"


@contextmanager
def docker_call(what: str) -> Iterator[None]:
    """Turn Docker failures into the engine's errors, naming the operation."""
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise SandboxUnavailable(
            f"Docker stopped answering while {what} ({exc}); {_HOW_TO_FIX}"
        ) from None
    except DOCKER_ERRORS as exc:
        raise ImageBuildError(f"Docker failed while {what}: {exc}") from None


def content_digest(sections: Iterable[tuple[str, Mapping[str, bytes]]]) -> str:
    """An unambiguous sha256 over named sections of ``{name: bytes}``."""
    digest = hashlib.sha256()
    for section, items in sections:
        digest.update(f"[{section}:{len(items)}]".encode())
        for name, data in sorted(items.items()):
            digest.update(f"{len(name)}:{name}:{len(data)}:".encode())
            digest.update(data)
    return digest.hexdigest()


@contextmanager
def build_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """Serialise builds of the same kind across processes on this host."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class BuildContext:
    """A build context written as an uncompressed tar with normalised metadata.

    Owner root, mode 0644 (0755 for folders), a fixed mtime: the same inputs give the same
    bytes, whoever builds them.
    """

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.fileobj = fileobj
        self._tar = tarfile.TarFile(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT)
        self._dirs: set[str] = set()

    def _dir(self, name: str) -> None:
        parent = name.rpartition("/")[0]
        if not parent or parent in self._dirs:
            return
        self._dir(parent)
        info = tarfile.TarInfo(parent)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        self._tar.addfile(info)
        self._dirs.add(parent)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._dir(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        self._dir(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
        with path.open("rb") as source:
            self._tar.addfile(info, source)

    def finish(self) -> IO[bytes]:
        self._tar.close()
        self.fileobj.seek(0)
        return self.fileobj


def run_build(
    client: docker.DockerClient,
    context: IO[bytes],
    *,
    tag: str,
    labels: Mapping[str, str],
    buildargs: Mapping[str, str],
    timeout: float,
    on_step: Callable[[int, int, str], None],
) -> str:
    """Run a classic ``docker build`` of ``context`` without network; returns the image id."""
    tail: list[str] = []
    image_id: str | None = None

    def failed(reason: str) -> ImageBuildError:
        log = "\n".join(tail[-LOG_TAIL_LINES:])
        return ImageBuildError(f"building {tag} failed: {reason}\n--- build log (tail) ---\n{log}")

    try:
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            labels=dict(labels),
            buildargs=dict(buildargs),
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            decode=True,
            timeout=int(timeout),
        )
        for event in stream:
            if "stream" in event:
                for line in str(event["stream"]).splitlines():
                    if not line.strip():
                        continue
                    tail = [*tail[-(LOG_TAIL_LINES * 2) :], line]
                    step = _STEP.match(line)
                    if step:
                        on_step(int(step[1]), int(step[2]), step[3])
            elif "error" in event:
                raise failed(str(event["error"]).strip())
            elif isinstance(event.get("aux"), dict) and "ID" in event["aux"]:
                image_id = str(event["aux"]["ID"])
    except requests.exceptions.ReadTimeout:
        raise failed(f"no answer within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower():  # a read time-out while streaming the log
            raise failed(f"no answer within {timeout:g} s") from None
        raise SandboxUnavailable(
            f"Docker stopped answering while building {tag} ({exc}); {_HOW_TO_FIX}"
        ) from None
    except DOCKER_ERRORS as exc:
        raise failed(str(exc)) from None
    if image_id is None:
        with docker_call(f"looking up {tag}"):
            try:
                image_id = client.images.get(tag).id
            except docker.errors.ImageNotFound:
                raise failed("the build produced no image") from None
    return image_id
