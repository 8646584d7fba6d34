"""The daemon's periodic prune of program images no job has used for a while.

Every ``images.prune_every_seconds`` (``policies/sandbox.yaml``) a thread removes the program
images tagged under this installation's ``image_prefix`` whose last use (see
:mod:`engine.sandbox.image_usage`) is older than ``images.prune_unused_after_seconds``. It
never removes an image a queued or running job needs (their program versions' files are
hashed against every runtime image the candidates are built on), a runtime or base image, or
an image a container uses (Docker refuses, and the image is kept). Each removal is logged as
an ``images.pruned`` event. A job whose image went is not harmed: its image is built again
(in about 0.3 s) when it runs.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from engine.records import JobStatus
from engine.sandbox.policy import ImageUpkeep as UpkeepPolicy
from engine.settings import Settings
from engine.store import Database, open_database

log = logging.getLogger("engine.images")


def open_store(settings: Settings) -> Database:
    """The store the daemon's settings name, opened for the pruner's own reads."""
    return open_database(settings.database_url, home=settings.home, settings=settings)


def needed_content_hashes(database: Database, runtime_ids: set[str]) -> set[str]:
    """The program-image content hashes the queued and running jobs need, for each of the
    runtime images ``runtime_ids``."""
    from engine.sandbox.images import program_content_hash, validate_program_files

    needed: set[str] = set()
    with database.read() as tx:
        jobs = [job for status in (JobStatus.QUEUED, JobStatus.RUNNING)
                for job in tx.jobs.list(status=status, limit=None)]
        versions = {(job.program_id, job.program_version) for job in jobs}
        for program_id, number in sorted(versions):
            version = tx.programs.get_version(program_id, number)
            if version is None or not version.files:
                continue
            files = validate_program_files(version.files)
            needed.update(program_content_hash(files, runtime) for runtime in runtime_ids)
    return needed


class ImagePruner:
    """A daemon thread pruning unused program images on the policy's schedule."""

    def __init__(self, database: Database, policy: UpkeepPolicy, settings: Settings,
                 client: Any = None) -> None:
        self.database = database
        self.policy = policy
        self.settings = settings
        self.client = client
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ImagePruner:
        if self.policy.prune_unused_after_seconds is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="image-pruner", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (after the round under way) and close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.database.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.policy.prune_every_seconds):
            try:
                self.prune_once()
            except Exception:  # Docker or the store away for a while: try at the next round
                log.warning("pruning unused program images failed", exc_info=True)

    def prune_once(self) -> list[str]:
        """One round: remove what is due; return the removed images' tags."""
        from engine.sandbox.docker_client import shared_client
        from engine.sandbox.images import LABEL_RUNTIME_IMAGE, list_images, prune_images

        assert self.policy.prune_unused_after_seconds is not None
        client = self.client or shared_client()
        candidates = list_images(client, kinds=["program"])
        runtimes = {info.labels[LABEL_RUNTIME_IMAGE] for info in candidates
                    if info.labels.get(LABEL_RUNTIME_IMAGE)}
        needed = needed_content_hashes(self.database, runtimes)
        result = prune_images(
            client, kinds=("program",), keep_current=True, needed=needed,
            unused_for=timedelta(seconds=self.policy.prune_unused_after_seconds),
            prefix=self.settings.image_prefix)
        removed = []
        for info in result.removed:
            tag = ", ".join(info.tags) or info.id
            removed.append(tag)
            log.info("removed program image %s: unused for %g s", tag,
                     self.policy.prune_unused_after_seconds,
                     extra={"event": "images.pruned",
                            "fields": {"image": tag, "id": info.id, "bytes": info.size}})
        return removed
