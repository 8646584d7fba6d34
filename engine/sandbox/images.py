"""Building, listing and pruning the sandbox's images, without any image registry.

Three kinds of image, each labelled ``org.program-engine.kind``:

- ``base``: ``python:3.11-slim`` when present or pullable, else a bootstrapped Debian rootfs
  (:mod:`engine.sandbox.base_image`);
- ``runtime``: the base plus a venv with the host's exact package versions, installed offline
  from a wheelhouse (:mod:`engine.sandbox.wheelhouse`), the sandbox-side engine modules
  (:data:`SANDBOX_SOURCES`) and the compatibility modules; tagged by the content hash of all
  of that, so an unchanged engine never rebuilds it;
- ``program``: the runtime image plus one program's files under ``/program``, tagged by the
  content hash of the files and the runtime image id, so identical sources share one image.

Docker is the cache: when an image with the right content-hash tag exists, nothing is built.
The build inputs (rootfs tarball, wheels) are kept under ``settings.cache_dir``.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import requests.exceptions

from engine.errors import ImageBuildError, ProgramError, SandboxUnavailable
from engine.sandbox import base_image, image_usage, wheelhouse
from engine.sandbox.image_build import (
    BuildContext,
    build_lock,
    content_digest,
    docker_call,
    run_build,
)
from engine.settings import Settings, get_settings

# --- labels and names ----------------------------------------------------------------------

LABEL_PREFIX = "org.program-engine"
LABEL_KIND = f"{LABEL_PREFIX}.kind"
LABEL_CONTENT_HASH = f"{LABEL_PREFIX}.content-hash"
LABEL_RECIPE_HASH = f"{LABEL_PREFIX}.recipe-hash"
LABEL_BASE_IMAGE = f"{LABEL_PREFIX}.base-image"
LABEL_RUNTIME_IMAGE = f"{LABEL_PREFIX}.runtime-image"
LABEL_PACKAGES = f"{LABEL_PREFIX}.python-packages"

ImageKind = Literal["base", "build-stage", "runtime", "program"]
IMAGE_KINDS: tuple[ImageKind, ...] = ("program", "build-stage", "runtime", "base")

#: The engine code that goes into the runtime image, relative to the project root: only what
#: runs inside the sandbox. Directories are taken whole; entries that do not exist are skipped.
SANDBOX_SOURCES: tuple[str, ...] = (
    "engine/__init__.py",
    "engine/errors.py",
    "engine/policy_files.py",
    "engine/program",
    "engine/serialization",
    "engine/protocol.py",
    "engine/sandbox/__init__.py",
    "engine/sandbox/runner.py",
    "engine/policies/serialization.yaml",
)
RUNTIME_DOCKERFILE = "runtime.Dockerfile"
PROGRAM_DOCKERFILE = "program.Dockerfile"
COMPAT_DIR = "compat"
PROGRAM_DIR = "/program"
SANDBOX_USER = "sandbox"
SANDBOX_UID = 10001

_HASH_TAG_LENGTH = 24
_MAX_PROGRAM_PATH_DEPTH = 8
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")


# --- public data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildProgress:
    """One progress event of a build; ``completed``/``total`` are set when the phase is
    countable (build steps)."""

    phase: Literal["base", "wheels", "runtime", "program"]
    message: str
    completed: int | None = None
    total: int | None = None


ProgressCallback = Callable[[BuildProgress], None]


@dataclass(frozen=True)
class ImageInfo:
    """One of the engine's images, as :func:`list_images` reports it."""

    id: str
    tags: tuple[str, ...]
    kind: str
    content_hash: str | None
    created: datetime
    size: int
    labels: Mapping[str, str] = field(repr=False)
    #: The diff ids of its layers, bottom first (``RootFS.Layers``), where they were read.
    layers: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` output)."""
        return {
            "id": self.id,
            "tags": list(self.tags),
            "kind": self.kind,
            "content_hash": self.content_hash,
            "created": self.created.isoformat(),
            "size": self.size,
        }


@dataclass
class PruneResult:
    """What :func:`prune_images` removed, and what it kept with the reason."""

    removed: list[ImageInfo] = field(default_factory=list)
    skipped: list[tuple[ImageInfo, str]] = field(default_factory=list)


# --- docker access -------------------------------------------------------------------------


def _client(client: docker.DockerClient | None) -> docker.DockerClient:
    if client is not None:
        return client
    from engine.sandbox.docker_client import connect

    return connect()


def existing_image(client: docker.DockerClient, ref: str, content_hash: str) -> Any | None:
    """The image ``ref`` if it exists and carries ``content_hash``; ``None`` otherwise."""
    with docker_call(f"looking up {ref}"):
        try:
            image = client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
    if (image.labels or {}).get(LABEL_CONTENT_HASH) != content_hash:
        return None
    return image


# --- sources and content hashes ------------------------------------------------------------


def project_root() -> Path:
    """The folder holding the ``engine`` package (the repository, or site-packages)."""
    return Path(__file__).resolve().parents[2]


def _tree_files(root: Path, entries: Iterable[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in entries:
        path = root / entry
        if path.is_file():
            files[entry] = path.read_bytes()
        elif path.is_dir():
            for item in sorted(path.rglob("*")):
                if item.is_file() and "__pycache__" not in item.parts and item.suffix != ".pyc":
                    files[item.relative_to(root).as_posix()] = item.read_bytes()
    return dict(sorted(files.items()))


def sandbox_source_files(root: Path | None = None) -> dict[str, bytes]:
    """The existing files of :data:`SANDBOX_SOURCES`, ``{relative path: content}``."""
    return _tree_files(root or project_root(), SANDBOX_SOURCES)


def compat_files() -> dict[str, bytes]:
    """The compatibility modules, ``{path under compat/: content}``."""
    compat = base_image.sandbox_images_dir() / COMPAT_DIR
    return {
        path.removeprefix(f"{COMPAT_DIR}/"): data
        for path, data in _tree_files(compat.parent, [COMPAT_DIR]).items()
    }


def runtime_content_hash(
    base_id: str,
    pins: Mapping[str, str],
    sources: Mapping[str, bytes],
    compat: Mapping[str, bytes],
    dockerfile: bytes,
) -> str:
    """The runtime image's identity: base image id, exact pins, engine and compat sources,
    and the Dockerfile."""
    return content_digest(
        [
            ("base", {"id": base_id.encode()}),
            ("arch", {"arch": wheelhouse.image_arch().encode()}),
            ("pins", {"requirements.txt": wheelhouse.requirements_text(pins).encode()}),
            ("sources", sources),
            ("compat", compat),
            ("dockerfile", {RUNTIME_DOCKERFILE: dockerfile}),
        ]
    )


def validate_program_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Check a program's file names and contents; returns them sorted.

    Names are relative POSIX paths of plain parts (letters, digits, ``._-``, not starting
    with a dot), so nothing can land outside ``/program``.
    """
    if not files:
        raise ProgramError("a program image needs at least one file")
    checked: dict[str, bytes] = {}
    for name, data in files.items():
        parts = name.split("/") if isinstance(name, str) else []
        if (
            not parts
            or len(parts) > _MAX_PROGRAM_PATH_DEPTH
            or not all(_PATH_PART.fullmatch(part) for part in parts)
        ):
            raise ProgramError(
                f"invalid file name {name!r}: use a relative path of at most "
                f"{_MAX_PROGRAM_PATH_DEPTH} parts made of letters, digits and '._-' "
                "(not starting with '.')",
                filename=str(name),
            )
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProgramError("file content must be bytes", filename=name)
        checked[name] = bytes(data)
    names = set(checked)
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in names:
                raise ProgramError("a file name is also used as a folder", filename=name)
    return dict(sorted(checked.items()))


def program_content_hash(files: Mapping[str, bytes], runtime_image_id: str) -> str:
    """A program image's identity: its files and the runtime image it is built on."""
    return content_digest([("runtime", {"id": runtime_image_id.encode()}), ("program", files)])


def _reporter(progress: ProgressCallback | None, phase: Any) -> Callable[[str], None]:
    def report(message: str) -> None:
        if progress is not None:
            progress(BuildProgress(phase, message))

    return report


def _step_reporter(
    progress: ProgressCallback | None, phase: Any
) -> Callable[[int, int, str], None]:
    def on_step(step: int, total: int, message: str) -> None:
        if progress is not None:
            progress(BuildProgress(phase, message, step, total))

    return on_step


# --- the runtime image ---------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeRecipe:
    """Everything the runtime image is made of, and the hash naming it."""

    base: base_image.BaseImage
    pins: Mapping[str, str]
    sources: Mapping[str, bytes]
    compat: Mapping[str, bytes]
    dockerfile: bytes
    content_hash: str
    tag: str


def _base_labels() -> dict[str, str]:
    return {LABEL_KIND: "base", LABEL_RECIPE_HASH: base_image.recipe_hash()}


def _recipe(base: base_image.BaseImage, settings: Settings) -> RuntimeRecipe:
    pins = wheelhouse.pinned_requirements()
    sources = sandbox_source_files()
    compat = compat_files()
    dockerfile = (base_image.sandbox_images_dir() / RUNTIME_DOCKERFILE).read_bytes()
    content_hash = runtime_content_hash(base.id, pins, sources, compat, dockerfile)
    tag = f"{settings.image_prefix}/runtime:{content_hash[:_HASH_TAG_LENGTH]}"
    return RuntimeRecipe(base, pins, sources, compat, dockerfile, content_hash, tag)


def runtime_recipe(
    client: docker.DockerClient | None = None,
    progress: ProgressCallback | None = None,
    settings: Settings | None = None,
) -> RuntimeRecipe:
    """Resolve the base image (making it if needed) and hash the runtime image's inputs."""
    client = _client(client)
    settings = settings or get_settings()
    with docker_call("finding the base image"):
        base = base_image.ensure_base_image(
            client,
            preferred=settings.base_image,
            pull_timeout=settings.base_image_pull_timeout,
            repository=f"{settings.image_prefix}/base",
            labels=_base_labels(),
            cache_dir=settings.cache_dir,
            mirror=settings.debian_mirror,
            report=_reporter(progress, "base"),
        )
    return _recipe(base, settings)


def current_runtime_image(client: docker.DockerClient | None = None) -> RuntimeRecipe | None:
    """The recipe of the runtime image the current sources call for, without building
    anything; ``None`` when its base image is not here yet."""
    client = _client(client)
    settings = get_settings()
    with docker_call("finding the base image"):
        base = base_image.find_base_image(
            client, preferred=settings.base_image, labels=_base_labels()
        )
    return None if base is None else _recipe(base, settings)


def ensure_runtime_image(
    client: docker.DockerClient | None = None,
    progress: ProgressCallback | None = None,
) -> str:
    """The runtime image's tag, building the image (and its base) if it does not exist yet.

    Raises :class:`SandboxUnavailable` when Docker cannot be reached and
    :class:`ImageBuildError` (with the build log's tail) when a build fails.
    """
    client = _client(client)
    settings = get_settings()
    known = _known_runtime.get(settings.image_prefix)
    if known is not None and existing_image(client, *known) is not None:
        return known[0]  # resolved earlier in this process: skip hashing the inputs again
    recipe = runtime_recipe(client, progress, settings)
    if existing_image(client, recipe.tag, recipe.content_hash) is None:
        with build_lock(settings.cache_dir, "runtime-build"):
            if existing_image(client, recipe.tag, recipe.content_hash) is None:
                build_runtime_image(client, recipe, progress, settings)
    _known_runtime[settings.image_prefix] = (recipe.tag, recipe.content_hash)
    return recipe.tag


# The runtime image each process resolved, by image prefix: its inputs (the engine's
# sandbox-side sources, the pinned wheels, the base image) are hashed once per process.
_known_runtime: dict[str, tuple[str, str]] = {}


def build_runtime_image(
    client: docker.DockerClient,
    recipe: RuntimeRecipe,
    progress: ProgressCallback | None = None,
    settings: Settings | None = None,
) -> str:
    """Build ``recipe`` unconditionally (filling the wheelhouse first); returns the image id."""
    settings = settings or get_settings()
    wheels = wheelhouse.fill_wheelhouse(
        settings.cache_dir / "wheelhouse" / f"cp311-{wheelhouse.image_arch()}",
        recipe.pins,
        _reporter(progress, "wheels"),
    )
    _reporter(progress, "runtime")(f"sending the build context for {recipe.tag}")
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.cache_dir) as spool:
        context = BuildContext(spool)
        context.add_bytes("Dockerfile", recipe.dockerfile)
        context.add_bytes(
            "wheels/requirements.txt", wheelhouse.requirements_text(recipe.pins).encode()
        )
        for path in wheels.values():
            context.add_file(f"wheels/{path.name}", path)
        for name, data in recipe.sources.items():
            context.add_bytes(f"engine-root/{name}", data)
        for name, data in recipe.compat.items():
            context.add_bytes(f"{COMPAT_DIR}/{name}", data)
        labels = {
            LABEL_KIND: "runtime",
            LABEL_CONTENT_HASH: recipe.content_hash,
            LABEL_BASE_IMAGE: recipe.base.id,
            LABEL_PACKAGES: " ".join(f"{n}=={v}" for n, v in recipe.pins.items()),
        }
        return run_build(
            client,
            context.finish(),
            tag=recipe.tag,
            labels=labels,
            buildargs={"BASE_IMAGE": recipe.base.id},
            timeout=settings.image_build_timeout,
            on_step=_step_reporter(progress, "runtime"),
        )


# --- per-program images --------------------------------------------------------------------


def ensure_program_image(
    files: Mapping[str, bytes],
    client: docker.DockerClient | None = None,
    runtime_image: str | None = None,
    progress: ProgressCallback | None = None,
) -> str:
    """The tag of the image running the program made of ``files`` (``{relative path: bytes}``).

    The image is the runtime image (``runtime_image``, or the current one, built if needed)
    plus ``files`` under ``/program``, owned by root. Its tag is the content hash of the
    files and the runtime image id, so identical sources share one image and a second call
    builds nothing.
    """
    checked = validate_program_files(files)
    client = _client(client)
    settings = get_settings()
    runtime_ref = runtime_image or ensure_runtime_image(client, progress)
    with docker_call(f"looking up the runtime image {runtime_ref}"):
        try:
            runtime = client.images.get(runtime_ref)
        except docker.errors.ImageNotFound:
            raise ImageBuildError(
                f"runtime image {runtime_ref} not found; build it with "
                "`program-engine images build`"
            ) from None
    content_hash = program_content_hash(checked, runtime.id)
    tag = f"{settings.image_prefix}/program:{content_hash[:_HASH_TAG_LENGTH]}"
    image_usage.note_use(content_hash, settings)
    if existing_image(client, tag, content_hash) is not None:
        return tag
    dockerfile = (base_image.sandbox_images_dir() / PROGRAM_DOCKERFILE).read_bytes()
    context = BuildContext(io.BytesIO())
    context.add_bytes("Dockerfile", dockerfile)
    for name, data in checked.items():
        context.add_bytes(f"program/{name}", data)
    run_build(
        client,
        context.finish(),
        tag=tag,
        labels={
            LABEL_KIND: "program",
            LABEL_CONTENT_HASH: content_hash,
            LABEL_RUNTIME_IMAGE: runtime.id,
        },
        buildargs={"RUNTIME_IMAGE": runtime.id},  # the id: exactly the image hashed
        timeout=settings.image_build_timeout,
        on_step=_step_reporter(progress, "program"),
    )
    return tag


# --- listing and pruning -------------------------------------------------------------------


def _info(row: Mapping[str, Any]) -> ImageInfo:
    """An image as Docker's image list describes it (one API call lists them all)."""
    labels = dict(row.get("Labels") or {})
    return ImageInfo(
        id=str(row["Id"]),
        tags=tuple(tag for tag in row.get("RepoTags") or () if tag != "<none>:<none>"),
        kind=labels.get(LABEL_KIND, "?"),
        content_hash=labels.get(LABEL_CONTENT_HASH),
        created=datetime.fromtimestamp(int(row.get("Created") or 0), UTC),
        size=int(row.get("Size") or 0),
        labels=labels,
    )


def list_images(
    client: docker.DockerClient | None = None,
    kinds: Iterable[str] | None = None,
    where: Mapping[str, str] | None = None,
) -> list[ImageInfo]:
    """The engine's images (of ``kinds``, default all), oldest first within each kind.

    ``where`` narrows the list to images carrying those exact label values.
    """
    client = _client(client)
    selector = [LABEL_KIND, *(f"{key}={value}" for key, value in (where or {}).items())]
    with docker_call("listing images"):
        rows = client.api.images(filters={"label": selector})
    wanted = set(kinds) if kinds is not None else set(IMAGE_KINDS)
    infos = [info for info in map(_info, rows) if info.kind in wanted]
    order = {kind: index for index, kind in enumerate(IMAGE_KINDS)}
    return sorted(infos, key=lambda info: (order.get(info.kind, 99), info.created))


def prune_images(
    client: docker.DockerClient | None = None,
    older_than: timedelta | None = None,
    kinds: Iterable[str] = ("program",),
    where: Mapping[str, str] | None = None,
    dry_run: bool = False,
    keep_current: bool = True,
    *,
    unused_for: timedelta | None = None,
    needed: Collection[str] = (),
    prefix: str | None = None,
) -> PruneResult:
    """Remove the engine's images of ``kinds`` created more than ``older_than`` ago (all of
    them when ``None``), optionally only those whose labels match ``where``.

    With ``unused_for``, an image goes only when it was last used (see
    :mod:`~engine.sandbox.image_usage`) more than that long ago. Images whose content hash is
    in ``needed`` (what queued and running jobs need) are kept; with ``prefix``, only images
    tagged under that image prefix are considered (those of one engine installation).

    Program images go first, then build stages, runtime and base images, so a parent is
    tried after its children; one that still has children (program images on a runtime
    image, runtime images on a base) is kept. With ``keep_current`` the runtime image the
    current sources call for, and its base, are kept. An image Docker will not remove (a
    container uses it) is skipped with Docker's reason; nothing is forced.
    """
    client = _client(client)
    kinds = tuple(kinds)
    now = datetime.now(UTC)
    cutoff = now - older_than if older_than is not None else None
    unused_cutoff = now - unused_for if unused_for is not None else None
    keep: set[str] = set()
    if keep_current and {"runtime", "base"} & set(kinds):
        current = current_runtime_image(client)
        if current is not None:
            keep.add(current.base.id)
            runtime = existing_image(client, current.tag, current.content_hash)
            if runtime is not None:
                keep.add(runtime.id)
    # Removing a tag of an image others are built on only untags it: keep such images whole.
    parents: dict[str, set[str]] = {}
    children = list_images(client, kinds=["program", "runtime"]) if set(kinds) - {"program"} else []
    for child in children:  # (no image is built on a program image)
        for label in (LABEL_RUNTIME_IMAGE, LABEL_BASE_IMAGE):
            if child.labels.get(label):
                parents.setdefault(child.labels[label], set()).add(child.id)
    result = PruneResult()
    gone: set[str] = set()
    for info in list_images(client, kinds=kinds, where=where):
        if cutoff is not None and info.created > cutoff:
            continue
        if prefix is not None and not any(tag.startswith(f"{prefix}/") for tag in info.tags):
            continue
        if unused_cutoff is not None and image_usage.last_used(
                info.content_hash, info.created) > unused_cutoff:
            continue
        if info.content_hash in needed:
            result.skipped.append((info, "a queued or running job needs it"))
            continue
        if info.id in keep:
            result.skipped.append((info, "the current runtime image or its base"))
            continue
        children = parents.get(info.id, set()) - gone
        if children:
            result.skipped.append((info, f"{len(children)} image(s) are built on it"))
            continue
        if dry_run:
            result.removed.append(info)
            gone.add(info.id)
            continue
        refs = [tag for tag in info.tags if prefix is None or tag.startswith(f"{prefix}/")]
        try:
            for ref in refs or (info.id,):  # under a prefix: another one's tags stay
                client.images.remove(ref, noprune=False)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError as exc:
            result.skipped.append((info, str(exc.explanation or exc)))
        except requests.exceptions.ConnectionError as exc:
            raise SandboxUnavailable(
                f"Docker stopped answering while pruning images ({exc}); run "
                "`bash scripts/setup` or start the daemon (as root: `dockerd &`)"
            ) from None
        else:
            result.removed.append(info)
            gone.add(info.id)
            image_usage.forget_use(info.content_hash)
    return result


def images_disk_usage(infos: Iterable[ImageInfo],
                      client: docker.DockerClient | None = None) -> image_usage.DiskUsage:
    """The disk ``infos`` take together, each shared layer counted once."""
    client = _client(client)

    def history(image_id: str) -> list[dict[str, Any]]:
        with docker_call("reading an image's history"):
            try:
                return list(client.api.history(image_id))
            except docker.errors.ImageNotFound:
                return []

    def with_layers(info: ImageInfo) -> ImageInfo:
        if info.layers:
            return info
        with docker_call(f"inspecting image {info.id[:19]}"):
            try:
                attrs = client.api.inspect_image(info.id)
            except docker.errors.ImageNotFound:
                return info
        return replace(info, layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()))

    return image_usage.disk_usage([with_layers(info) for info in infos], history)
