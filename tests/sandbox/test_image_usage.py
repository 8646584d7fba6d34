"""The disk the engine's images really take (shared layers once) and pruning by last use.

The unit tests check the layer arithmetic on plain data; the ``docker`` tests build real
program images on the runtime image and read Docker's own sizes and histories.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import docker.errors as docker_errors
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.sandbox import image_usage, images

# --- layer arithmetic ----------------------------------------------------------------------


def test_chain_ids_follow_the_oci_rule() -> None:
    first, second = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    chained = "sha256:" + hashlib.sha256(f"{first} {second}".encode()).hexdigest()
    assert image_usage.chain_ids([first, second]) == [first, chained]
    assert image_usage.chain_ids([]) == []


@pytest.mark.parametrize(("steps", "count", "sizes"), [
    ([5, 0, 7, 0], 2, [5, 7]),            # configuration-only steps make no layer
    ([5, 0, 7], 3, [5, 0, 7]),            # an empty layer where one must be
    ([0, 0, 4], 1, [4]),
    ([5, 7], 1, None),                    # more non-empty steps than layers
    ([5], 2, None),                       # fewer steps than layers
])
def test_layer_sizes_from_history_steps(steps: list[int], count: int,
                                        sizes: list[int] | None) -> None:
    assert image_usage.layer_sizes(steps, count) == sizes


def _image(image_id: str, layers: list[str], sizes: list[int]) -> tuple[Any, list[dict]]:
    history = [{"Size": size} for size in reversed([*sizes, 0])]  # newest first, a LABEL step
    return SimpleNamespace(id=image_id, layers=tuple(layers), size=sum(sizes)), history


def test_shared_layers_count_once() -> None:
    base, prog_a, prog_b = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    runtime, runtime_history = _image("r", [base], [100])
    first, first_history = _image("a", [base, prog_a], [100, 3])
    second, second_history = _image("b", [base, prog_b], [100, 5])
    odd = SimpleNamespace(id="odd", layers=("sha256:" + "4" * 64,), size=9)  # history unknown
    histories = {"r": runtime_history, "a": first_history, "b": second_history, "odd": []}
    usage = image_usage.disk_usage([runtime, first, second, odd], histories.__getitem__)
    assert usage.apparent_bytes == 100 + 103 + 105 + 9
    assert usage.disk_bytes == 100 + 3 + 5 + 9
    assert usage.unique == {"r": 0, "a": 3, "b": 5, "odd": 9}


def test_last_use_is_the_mark_or_the_creation(tmp_path: Any) -> None:
    from datetime import UTC, datetime

    settings = SimpleNamespace(cache_dir=tmp_path)
    created = datetime(2020, 1, 1, tzinfo=UTC)
    content = "c" * 64
    assert image_usage.last_used(content, created, settings) == created
    image_usage.note_use(content, settings)
    assert image_usage.last_used(content, created, settings) > created
    image_usage.note_use("../../etc/passwd", settings)  # not a content hash: no mark
    assert sorted(p.name for p in (tmp_path / image_usage.USE_DIR).iterdir()) == [content]


# --- with real images ----------------------------------------------------------------------


def _fresh_program(docker: Any, runtime_image: str, name: str) -> tuple[str, Any]:
    files = {f"{name}.py": f"# {os.urandom(16).hex()}\nX = 1\n".encode()}
    tag = images.ensure_program_image(files, docker, runtime_image=runtime_image)
    return tag, docker.images.get(tag)


@pytest.mark.docker
def test_disk_usage_counts_the_runtime_image_once(docker: Any, runtime_image: str) -> None:
    first_tag, first = _fresh_program(docker, runtime_image, "disk_a")
    second_tag, second = _fresh_program(docker, runtime_image, "disk_b")
    runtime = docker.images.get(runtime_image)
    try:
        chosen = [info for image in (runtime, first, second) for info in images.list_images(
            docker, where={images.LABEL_CONTENT_HASH: image.labels[images.LABEL_CONTENT_HASH]})]
        assert [info.id for info in chosen] == [runtime.id, first.id, second.id]
        usage = images.images_disk_usage(chosen, docker)
        size = {image.id: image.attrs["Size"] for image in (runtime, first, second)}
        own = {key: size[key] - size[runtime.id] for key in (first.id, second.id)}
        assert usage.apparent_bytes == sum(size.values())
        assert usage.disk_bytes == size[runtime.id] + own[first.id] + own[second.id]
        assert usage.disk_bytes < usage.apparent_bytes
        assert usage.unique[first.id] == own[first.id]
        assert usage.unique[runtime.id] == 0  # every layer of it is under the programs too

        result = CliRunner().invoke(app, ["images", "list", "--json", "--kind", "runtime"])
        assert result.exit_code == 0, result.output
        listing = json.loads(result.output)
        assert 0 < listing["disk_bytes"] <= listing["apparent_bytes"]
        assert listing["apparent_bytes"] == sum(item["size"] for item in listing["images"])
        shown = {item["id"]: item for item in listing["images"]}
        assert shown[runtime.id]["own_size"] <= size[runtime.id]
        assert shown[runtime.id]["last_used"]
    finally:
        for tag in (first_tag, second_tag):
            docker.images.remove(tag)


@pytest.mark.docker
def test_prune_by_last_use_spares_used_and_needed_images(docker: Any,
                                                         runtime_image: str) -> None:
    stale_tag, stale = _fresh_program(docker, runtime_image, "stale")
    used_tag, used = _fresh_program(docker, runtime_image, "used")
    needed_tag, needed = _fresh_program(docker, runtime_image, "needed")
    hashes = {tag: image.labels[images.LABEL_CONTENT_HASH]
              for tag, image in ((stale_tag, stale), (used_tag, used), (needed_tag, needed))}
    time.sleep(2.5)
    image_usage.note_use(hashes[used_tag])  # a job ran it just now
    unused_for = timedelta(seconds=2)
    try:
        for tag in (used_tag, needed_tag, stale_tag):
            result = images.prune_images(
                docker, unused_for=unused_for, needed={hashes[needed_tag]},
                where={images.LABEL_CONTENT_HASH: hashes[tag]})
            if tag == stale_tag:
                assert [info.tags for info in result.removed] == [(stale_tag,)]
            elif tag == needed_tag:
                assert result.removed == []
                assert [why for _, why in result.skipped] == ["a queued or running job needs it"]
            else:
                assert result.removed == [] and result.skipped == []
        with pytest.raises(docker_errors.ImageNotFound):
            docker.images.get(stale_tag)
        assert docker.images.get(used_tag) and docker.images.get(needed_tag)
        assert docker.images.get(runtime_image)
    finally:
        for tag in (used_tag, needed_tag):
            docker.images.remove(tag)
