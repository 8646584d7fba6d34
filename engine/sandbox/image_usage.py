"""When each program image was last used, and how much disk the engine's images really take.

**Last use.** Docker does not record when an image was last run, so the engine does: every
time a job's program image is resolved (:func:`~engine.sandbox.images.ensure_program_image`)
the empty file ``<cache_dir>/image-use/<content hash>`` is touched, and its modification
time is the image's last use (its creation time if it was never used). Pruning by last use
(``images prune --unused-for``, and the daemon's periodic prune) reads it. Marking is best
effort: a cache folder that cannot be written costs the mark, never the job.

**Disk.** Images share layers (every program image is the runtime image plus a layer or
two), so the sum of their sizes counts the runtime image once per program. The disk they
really take is the size of the union of their layers: each layer is named by its chain id
(from the image's ``RootFS.Layers``) and sized from the image's history, where Docker gives
the size of every layer-making step.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)

USE_DIR = "image-use"
_HASH = re.compile(r"[0-9a-f]{64}")


# --- last use ----------------------------------------------------------------------------------


def _marker(content_hash: str, settings: Settings | None) -> Path | None:
    if not isinstance(content_hash, str) or not _HASH.fullmatch(content_hash):
        return None
    return (settings or get_settings()).cache_dir / USE_DIR / content_hash


def note_use(content_hash: str, settings: Settings | None = None) -> None:
    """Record that the program image with ``content_hash`` is used now."""
    marker = _marker(content_hash, settings)
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os.utime(marker)
    except OSError as exc:
        log.debug("could not mark image %s as used: %s", content_hash[:12], exc)


def last_used(content_hash: str | None, created: datetime,
              settings: Settings | None = None) -> datetime:
    """When the image was last used: its mark's time, or ``created`` if that is later or
    there is no mark."""
    marker = _marker(content_hash or "", settings)
    try:
        marked = datetime.fromtimestamp(marker.stat().st_mtime, UTC) if marker else None
    except OSError:
        marked = None
    return max(created, marked) if marked is not None else created


def forget_use(content_hash: str | None, settings: Settings | None = None) -> None:
    """Drop the mark of an image that was removed."""
    marker = _marker(content_hash or "", settings)
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.unlink(missing_ok=True)


# --- disk --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiskUsage:
    """The disk a set of images takes: ``disk_bytes`` counts each shared layer once,
    ``apparent_bytes`` is the sum of the images' sizes, ``unique`` each image's bytes in
    layers no other image of the set uses (what removing it alone frees)."""

    disk_bytes: int
    apparent_bytes: int
    unique: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, int]:
        return {"disk_bytes": self.disk_bytes, "apparent_bytes": self.apparent_bytes}


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain id of each layer (OCI image spec): a layer's identity with all below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            text = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(text).hexdigest())
    return chains


def layer_sizes(history_sizes: Sequence[int], layer_count: int) -> list[int] | None:
    """Each layer's size from the sizes of an image's history steps, oldest first.

    A step that made a layer has that layer's size; a step that only changed the
    configuration has 0. A layer of 0 bytes cannot be told from such a step, so zero steps
    are taken as layers only where they must be (as many steps left as layers); that can
    only misplace empty layers. ``None`` when the history cannot describe ``layer_count``
    layers (more non-empty steps than layers).
    """
    sizes: list[int] = []
    steps = len(history_sizes)
    for index, size in enumerate(history_sizes):
        left = layer_count - len(sizes)
        if left <= 0:
            if size > 0:
                return None
            continue
        if size > 0 or left >= steps - index:
            sizes.append(max(0, int(size)))
    return sizes if len(sizes) == layer_count else None


def disk_usage(images: Iterable[Any], history: Any) -> DiskUsage:
    """The disk ``images`` take together (see the module doc).

    ``images`` carry ``id``, ``size`` and ``layers`` (their diff ids, as
    :class:`~engine.sandbox.images.ImageInfo` does); ``history(image_id)`` gives the image's
    history as Docker's API does (newest step first, each with ``Size``). An image whose
    history does not add up to its size is counted whole, sharing nothing.
    """
    listed = list(images)
    layers_of: dict[str, list[tuple[str, int]]] = {}
    for image in listed:
        chains = chain_ids(image.layers)
        steps = [int(step.get("Size") or 0) for step in reversed(history(image.id) or [])]
        sizes = layer_sizes(steps, len(chains))
        if sizes is None or sum(sizes) != image.size:
            layers_of[image.id] = [(f"image:{image.id}", image.size)]
        else:
            layers_of[image.id] = list(zip(chains, sizes, strict=True))
    users: Counter[str] = Counter()
    size_of: dict[str, int] = {}
    for layers in layers_of.values():
        for chain, size in dict(layers).items():
            users[chain] += 1
            size_of[chain] = size
    unique = {image_id: sum(size for chain, size in dict(layers).items() if users[chain] == 1)
              for image_id, layers in layers_of.items()}
    return DiskUsage(disk_bytes=sum(size_of.values()),
                     apparent_bytes=sum(image.size for image in listed), unique=unique)
