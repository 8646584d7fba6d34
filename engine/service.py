"""``RuntimeService``: programs, versions and jobs, embedded in another system.

    from engine import RuntimeService

    service = RuntimeService(user="alice")
    program_id = service.upload_program("program_source/hello_world")
    job = service.run(program_id, {"iterations": 2})
    print(job.result())

Its interface follows the original Qiskit Runtime client (``QiskitRuntimeService`` is an
alias). Every check happens before anything is stored: metadata and inputs are validated,
uploads are scanned (a rejection raises :class:`ProgramRejected` with the full report), the
backend must exist and meet the program's requirements. Programs are private to their owner
unless made public; another user's private program or job looks exactly like a missing one.

Every service object of a process that opens the same store shares one :class:`_Core`: the
database, the change notifications and the executor that runs queued jobs.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - see _see_running_jobs_through
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine import job_log
from engine.accounts import Accounts
from engine.audit import EMBEDDED, Action, AuditOrigin, AuditRecord
from engine.audit_log import AuditLog
from engine.documents import BackendInfo
from engine.errors import (
    DuplicateProgram,
    EngineError,
    InputValidationError,
    InvalidJobState,
    InvalidReviewState,
    JobNotFound,
    MetadataError,
    PermissionDenied,
    ProgramNotApproved,
    ProgramNotFound,
    QuotaExceeded,
    ReviewNotFound,
    SandboxUnavailable,
)
from engine.events import JobEvents
from engine.interface import RuntimeServiceInterface
from engine.policy_files import load_policy_model
from engine.process_identity import is_alive, is_local
from engine.program import ResultDecoder
from engine.records import JobRecord, JobStatus, ProgramRecord, ReviewStatus
from engine.review_policy import ReviewPolicy, load_review_policy
from engine.reviews import ProgramReview, review_view
from engine.runtime_job import RuntimeJob
from engine.runtime_program import RuntimeProgram
from engine.settings import Settings, get_settings
from engine.store import Database, new_job_id, open_database
from engine.user_admin import UserAdministration

log = logging.getLogger(__name__)

#: ``RuntimeService(executor=...)``'s default: the ``executor`` setting.
DEFAULT_EXECUTOR = "default"
# The fewest jobs a process remembers submitting before it looks for ended ones to forget.
_SUBMITTED_PRUNE_FLOOR = 256


class ServicePolicy(BaseModel):
    """``policies/service.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrent_jobs: int = Field(ge=1, le=1024)
    max_running_per_user: int | None = Field(default=None, ge=1)
    max_queued_per_user: int = Field(ge=1)
    poll_seconds: float = Field(gt=0, le=60)
    log_flush_seconds: float = Field(default=0.25, gt=0, le=60)
    cancel_deadline_seconds: float = Field(default=30, gt=0)
    heartbeat_seconds: float = Field(gt=0)
    shutdown_grace_seconds: float = Field(ge=0)
    sandbox_lost_seconds: float = Field(default=30, gt=0, le=3600)
    docker_probe_timeout_seconds: float = Field(default=2, gt=0, le=60)


def load_service_policy() -> ServicePolicy:
    """The service policy from ``policies/service.yaml``."""
    return load_policy_model("service", ServicePolicy)


class _Core:
    """What every service object on one store shares within a process."""

    def __init__(self, database: Database, policy: ServicePolicy, max_concurrent_jobs: int,
                 executor: str | None, *, ray_address: str | None = None,
                 settings: Settings | None = None) -> None:
        self.database = database
        self.policy = policy
        self.events = JobEvents()
        self._registry: Any = None  # built on first use: it imports Qiskit
        self._registry_lock = threading.Lock()
        self.users = 0
        self.executor: Any = None
        self.submitted: set[str] = set()  # jobs queued here for this process's executor
        self._submitted_lock = threading.Lock()
        self._prune_submitted_at = _SUBMITTED_PRUNE_FLOOR
        self._recover(reap=executor is not None)
        if executor is not None:
            self.executor = _make_executor(executor, self, max_concurrent_jobs,
                                           ray_address=ray_address, settings=settings)
            self.executor.start()

    @property
    def registry(self) -> Any:
        """The backend registry, built on first use (listing jobs never needs Qiskit)."""
        with self._registry_lock:
            if self._registry is None:
                from engine.backends import BackendRegistry

                self._registry = BackendRegistry()
            return self._registry

    def _recover(self, *, reap: bool) -> None:
        """End jobs whose engine process died on this host, and reap their containers.

        Containers are reaped when this process will run sandboxes (``reap``) or has just
        ended a dead process's jobs; a service that only reads (a CLI listing) then needs
        neither Docker nor its SDK.
        """
        with self.database.write() as tx:
            running = tx.jobs.list(status=JobStatus.RUNNING, limit=None)
            dead = {
                job.claimed_by for job in running
                if is_local(job.claimed_by) and not is_alive(job.claimed_by)
            }
            ended = []
            for claimer in sorted(dead):
                recovered = tx.jobs.recover_after_restart(claimed_by=claimer)
                log.warning("jobs %s ended: their engine process died", recovered.failed)
                ended += [tx.jobs.get(job_id) for job_id in recovered.failed]
        for record in ended:
            if record is not None:
                job_log.ended(record)
        if not (reap or dead):
            return
        try:
            from engine.sandbox.container import reap_orphans
            from engine.sandbox.docker_client import shared_client

            reap_orphans(shared_client())
        except SandboxUnavailable as exc:
            log.warning("orphaned sandboxes not reaped: %s", exc)

    def note_submitted(self, job_id: str) -> None:
        """Remember a job queued here for this process's executor. Ended ones are dropped
        whenever the set has doubled since the last look, so a daemon does not keep one
        entry per job it ever ran."""
        with self._submitted_lock:
            self.submitted.add(job_id)
            grown = len(self.submitted) > self._prune_submitted_at
        if grown:
            left = len(self.unfinished())
            self._prune_submitted_at = max(_SUBMITTED_PRUNE_FLOOR, 2 * left)

    def unfinished(self) -> list[str]:
        """The jobs submitted through this process that have not ended yet."""
        with self._submitted_lock:
            asked = sorted(self.submitted)
        if not asked:
            return []
        with self.database.read() as tx:
            records = [tx.jobs.get(job_id) for job_id in asked]
        ended = {job_id for job_id, record in zip(asked, records, strict=True)
                 if record is None or record.is_final}
        with self._submitted_lock:
            self.submitted -= ended
            return sorted(self.submitted)

    def cancel_unfinished(self) -> None:
        """Cancel every job :meth:`unfinished` names (reason ``user``)."""
        for job_id in self.unfinished():
            with self.database.write() as tx:
                tx.jobs.request_cancel(job_id)
            self.executor.cancel(job_id)
            self.events.notify(job_id)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(self.policy.shutdown_grace_seconds)
        if self._registry is not None:
            self._registry.close()
        self.database.close()


def _warm_pool() -> Any:
    """The warm pool ``policies/sandbox.yaml`` asks for, or ``None``."""
    from engine.sandbox.policy import load_sandbox_policy

    policy = load_sandbox_policy()
    if policy.warm_pool_size == 0 and not policy.reuse:
        return None
    from engine.sandbox.docker_client import shared_client
    from engine.sandbox.pool import WarmPool

    return WarmPool.from_policy(shared_client(), policy)


def _make_executor(kind: str, core: _Core, max_concurrent_jobs: int, *,
                   ray_address: str | None = None, settings: Settings | None = None) -> Any:
    claiming: dict[str, Any] = {  # what every executor claiming from the store is given
        "max_concurrent_jobs": max_concurrent_jobs,
        "max_running_per_user": core.policy.max_running_per_user,
        "poll_seconds": core.policy.poll_seconds,
        "log_flush_seconds": core.policy.log_flush_seconds,
        "cancel_deadline_seconds": core.policy.cancel_deadline_seconds,
        "heartbeat_seconds": core.policy.heartbeat_seconds,
    }
    if kind == "ray":
        from engine.executors.ray_executor import RayExecutor

        settings = settings or get_settings()
        return RayExecutor(
            core.database,
            core.events,
            address=ray_address or settings.ray_address,
            cancel_grace_seconds=core.policy.shutdown_grace_seconds,
            reaper_seconds=settings.ray_reaper_seconds,
            **claiming,
        )
    if kind != "local":
        raise EngineError(f"unknown executor {kind!r}; known: local, ray")
    from engine.executors.local import LocalExecutor
    from engine.sandbox.docker_watch import DockerWatch

    watch = DockerWatch(probe_timeout=core.policy.docker_probe_timeout_seconds,
                        lost_after=core.policy.sandbox_lost_seconds,
                        interval=core.policy.poll_seconds)
    return LocalExecutor(core.database, core.events, registry=core.registry, pool=_warm_pool(),
                         docker_watch=watch, **claiming)


@lru_cache(maxsize=64)
def _stored_metadata(metadata_json: str) -> Any:
    """A stored version's metadata as a ``ProgramMetadata``, validated once per text: a
    version never changes, and each job would otherwise validate its program's schemas again."""
    from engine.metadata import load_metadata

    return load_metadata(metadata_json)


_cores: dict[str, _Core] = {}
_cores_lock = threading.Lock()


def _see_running_jobs_through() -> None:
    """At interpreter exit, wait for the jobs this process submitted and runs, as a thread
    pool waits for its work.

    A script that submits jobs and reaches its end does not leave them silently: it says so
    on stderr and waits until they end; Ctrl-C then cancels them (``CANCELLED``, reason
    ``user``) and waits for their sandboxes to go.
    """
    with _cores_lock:
        cores = [core for core in _cores.values() if core.executor is not None]
    if not any(core.unfinished() for core in cores):
        return
    waiting = [job for core in cores for job in core.unfinished()]
    print(f"program-engine: waiting for {len(waiting)} job(s) to end: {', '.join(waiting)} "
          f"(Ctrl-C cancels them)", file=sys.stderr, flush=True)
    try:
        while any(core.unfinished() for core in cores):
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("program-engine: cancelling the jobs", file=sys.stderr, flush=True)
        for core in cores:
            core.cancel_unfinished()
        deadline = time.monotonic() + 60
        while any(core.unfinished() for core in cores) and time.monotonic() < deadline:
            time.sleep(0.2)


# Registered with threading's exit hooks, as concurrent.futures registers its own: they run
# in reverse order of registration, before non-daemon threads are joined and before atexit
# handlers, so the jobs waited for here can still start threads and submit work (importing
# concurrent.futures.thread first makes sure its own hook, registered earlier, runs later).
threading._register_atexit(_see_running_jobs_through)  # type: ignore[attr-defined]


class RuntimeService(UserAdministration, RuntimeServiceInterface):
    """Upload programs, run them as jobs, and read their results.

    ``home`` (default ``$ENGINE_HOME``, else ``~/.local/share/program-engine``) holds the
    SQLite store unless ``database_url`` names another database. ``user`` is who acts;
    ``is_admin`` lets them see and change everything. ``policy`` is the scan policy for
    uploads (a :class:`~engine.scan.ScanPolicy` or a path; default ``policies/scan.yaml``).
    ``executor="local"`` runs queued jobs in this process, at most ``max_concurrent_jobs``
    at once; ``executor="ray"`` runs each as a task on the Ray cluster at ``ray_address``
    (``HOST:PORT``); ``executor=None`` only queues them, for an executor elsewhere (a daemon)
    to run. The default is the ``executor`` setting (``ENGINE_EXECUTOR``, ``local`` unless
    set), and ``ray_address`` defaults to ``ENGINE_RAY_ADDRESS``.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        user: str = "local",
        database_url: str | None = None,
        policy: Any = None,
        max_concurrent_jobs: int | None = None,
        *,
        is_admin: bool = False,
        executor: str | None = DEFAULT_EXECUTOR,
        ray_address: str | None = None,
        settings: Settings | None = None,
        is_reviewer: bool | None = None,
        review_policy: ReviewPolicy | None = None,
        origin: AuditOrigin = EMBEDDED,
    ) -> None:
        if not isinstance(user, str) or not user.strip():
            raise ValueError("user must be a non-empty string")
        settings = settings or get_settings()
        if executor == DEFAULT_EXECUTOR:
            executor = settings.executor
        self.user = user
        self.is_admin = is_admin
        self._is_reviewer = is_reviewer  # None: as the users table says
        self._origin = origin
        self._review_policy = review_policy or load_review_policy()
        self._home = Path(home) if home is not None else settings.home
        self._scan_policy = _scan_policy(policy)
        self._service_policy = load_service_policy()
        database = open_database(database_url, home=self._home, settings=settings)
        key = str(database.url)
        with _cores_lock:
            core = _cores.get(key)
            if core is None:
                core = _Core(database, self._service_policy,
                             max_concurrent_jobs or self._service_policy.max_concurrent_jobs,
                             executor, ray_address=ray_address, settings=settings)
                _cores[key] = core
            else:
                database.close()
            core.users += 1
        self._core = core
        self._key = key
        self._closed = False

    @property
    def _db(self) -> Database:
        return self._core.database

    @property
    def store_url(self) -> str:
        """The store's database URL, its password hidden (for logs and diagnostics)."""
        return self._db.url.render_as_string(hide_password=True)

    def as_user(self, user: str, *, is_admin: bool = False, is_reviewer: bool = False,
                origin: AuditOrigin | None = None) -> RuntimeService:
        """A view of the same store acting as ``user`` (what the daemon uses per request).

        The view shares this object's store and executor; closing it does nothing, and it
        must not outlive this object.
        """
        if not isinstance(user, str) or not user.strip():
            raise ValueError("user must be a non-empty string")
        view = object.__new__(RuntimeService)
        view.__dict__.update(self.__dict__)
        view.user = user
        view.is_admin = is_admin
        view._is_reviewer = is_reviewer
        view._origin = origin or self._origin
        view._closed = True  # holds no reference of its own on the store
        return view

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _cores_lock:
            self._core.users -= 1
            if self._core.users > 0:
                return
            _cores.pop(self._key, None)
        self._core.close()

    def __enter__(self) -> RuntimeService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- programs ----------------------------------------------------------------------------

    def upload_program(self, data: Any, metadata: Any = None, *, new: bool = False) -> str:
        # the job spec's models: not for listings
        from engine.submission import review as scan_upload

        source = _load_upload(data, metadata)
        if not new:
            self._refuse_duplicate(source.metadata.name)
        report = scan_upload(source, self._scan_policy)
        public = bool(source.metadata.is_public)
        status = self._review_policy.status_for(report, first_version=True, public=public)
        _build_image(source)
        with self._db.write() as tx:
            record = tx.programs.create(
                name=source.metadata.name,
                owner=self.user,
                metadata=source.metadata.to_dict(),
                source_hash=source.source_hash,
                entry=source.entry,
                files=dict(source.files),
                is_public=public,
            )
            self._record_version(tx, Action.PROGRAM_UPLOAD, record.id, 1, status, report)
        return record.id

    def update_program(
        self,
        program_id: str,
        data: Any = None,
        metadata: Any = None,
        name: str | None = None,
        description: str | None = None,
        max_execution_time: float | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        from engine.loader import program_from_files
        from engine.metadata import load_metadata
        from engine.submission import review as scan_upload

        with self._db.read() as tx:
            current = self._owned_program(tx, program_id, with_files=True)
        merged = dict(current.version.metadata)
        if metadata is not None:
            merged = load_metadata(metadata).to_dict()
        for key, value in (("name", name), ("description", description),
                           ("max_execution_time", max_execution_time), ("spec", spec)):
            if value is not None:
                merged[key] = value
        new_metadata = load_metadata(merged)
        if data is not None:
            source = _load_upload(data, new_metadata)
        else:
            source = program_from_files(current.version.entry, current.version.files or {},
                                        new_metadata)
        # Unchanged files are scanned again too: a new version never skips review.
        report = scan_upload(source, self._scan_policy)
        status = self._review_policy.status_for(report, first_version=False,
                                                public=current.is_public)
        _build_image(source)
        with self._db.write() as tx:
            updated = tx.programs.add_version(
                program_id,
                metadata=new_metadata.to_dict(),
                source_hash=source.source_hash,
                entry=source.entry,
                files=dict(source.files),
                name=new_metadata.name,
            )
            if updated is not None:
                self._record_version(tx, Action.PROGRAM_UPDATE, program_id,
                                     updated.current_version, status, report)
        if updated is None:
            raise ProgramNotFound(f"program {program_id!r} not found")

    def programs(self, limit: int | None = 20, skip: int = 0) -> list[RuntimeProgram]:
        with self._db.read() as tx:
            records = tx.programs.list_visible(
                self.user, is_admin=self.is_admin, limit=limit, skip=skip
            )
        return [RuntimeProgram.from_record(record) for record in records]

    def program(self, program_id: str) -> RuntimeProgram:
        with self._db.read() as tx:
            return RuntimeProgram.from_record(self._visible_program(tx, program_id))

    def set_program_visibility(self, program_id: str, public: bool) -> None:
        with self._db.write() as tx:
            self._owned_program(tx, program_id)
            tx.programs.set_visibility(program_id, bool(public))
            self._audit(tx, Action.PROGRAM_VISIBILITY, program_id, {"public": bool(public)})

    def delete_program(self, program_id: str) -> None:
        with self._db.write() as tx:
            self._owned_program(tx, program_id)
            queued = tx.jobs.cancel_queued(program_id)
            cancelled = [tx.jobs.get(job_id) for job_id in queued]
            tx.programs.delete(program_id)
            self._audit(tx, Action.PROGRAM_DELETE, program_id, {"cancelled_jobs": queued})
        for job_id in queued:
            self._core.events.notify(job_id)
        for ended in cancelled:
            if ended is not None and ended.is_final:
                job_log.ended(ended)

    # --- jobs --------------------------------------------------------------------------------

    def run(
        self,
        program_id: str,
        inputs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        callback: Callable[[str, Any], None] | None = None,
        result_decoder: type[ResultDecoder] | None = None,
    ) -> RuntimeJob:
        from engine.submission import build_job_spec, check_options

        with self._db.read() as tx:
            program = self._visible_program(tx, program_id)
            version = self._approved_version(tx, program)
            queued = tx.jobs.count(owner=self.user, status=JobStatus.QUEUED)
        spec = build_job_spec(
            job_id=new_job_id(),
            user=self.user,
            program_id=program.id,
            program_version=version.version,
            entry=version.entry,
            files=version.files or {},
            metadata=_stored_metadata(version.metadata_json),
            inputs=inputs,
            options=options,
            registry=self._core.registry,
        )
        if queued >= self._service_policy.max_queued_per_user:
            raise QuotaExceeded(
                f"user {self.user!r} already has {queued} queued jobs "
                f"(max_queued_per_user = {self._service_policy.max_queued_per_user})"
            )
        with self._db.write() as tx:
            record = tx.jobs.create(
                job_id=spec.job_id,
                program_id=program.id,
                program_version=version.version,
                owner=self.user,
                backend=spec.backend,
                inputs=spec.inputs,
                options={k: v for k, v in check_options(options).items()
                         if isinstance(v, (str, int, float))},
                profile=spec.profile,
            )
            self._audit(tx, Action.JOB_RUN, record.id,
                        {"program_id": program.id, "program_version": version.version,
                         "backend": spec.backend})
        job_log.queued(record)
        if self._core.executor is not None:
            self._core.note_submitted(record.id)
            self._core.executor.wake()
        job = RuntimeJob(self, record, result_decoder)
        if callback is not None:
            job.stream_results(callback)
        return job

    def job(self, job_id: str) -> RuntimeJob:
        return RuntimeJob(self, self.job_record(job_id))

    def jobs(
        self,
        program_id: str | None = None,
        status: str | JobStatus | None = None,
        limit: int | None = 10,
        skip: int = 0,
        created_after: datetime | None = None,
    ) -> list[RuntimeJob]:
        if isinstance(status, str):
            status = JobStatus(status.upper())
        with self._db.read() as tx:
            records = tx.jobs.list(
                owner=None if self.is_admin else self.user,
                program_id=program_id,
                status=status,
                created_after=created_after,
                limit=limit,
                skip=skip,
            )
        return [RuntimeJob(self, record) for record in records]

    def delete_job(self, job_id: str) -> None:
        record = self.job_record(job_id)
        self._require_owner(record.owner, f"job {job_id!r}")
        if not record.is_final:
            self.cancel_job(job_id)
        with self._db.write() as tx:
            tx.jobs.delete(job_id)
            self._audit(tx, Action.JOB_DELETE, job_id, {"program_id": record.program_id})
        self._core.events.notify(job_id)

    @property
    def accounts(self) -> Accounts:
        """The users and bearer tokens of this service's store (what the daemon checks)."""
        return Accounts(self._db, actor=self.user, origin=self._origin)

    @property
    def audit_chain(self) -> AuditLog:
        """The audit log of this service's store as ``program-engine audit`` reads it (to
        verify its chain; the daemon's dashboard shows admins the result)."""
        return AuditLog(self._db)

    def ping(self) -> None:
        """Read from the store once; raise if it does not answer (the daemon's readiness)."""
        self._db.ping()

    def job_counts(self) -> dict[tuple[JobStatus, str | None], int]:
        """How many jobs the store holds per ``(status, reason)``, for every user."""
        with self._db.read() as tx:
            return tx.jobs.counts()

    def jobs_ended_since(self, when: datetime) -> list[JobRecord]:
        """Every user's jobs that ended at or after ``when`` (for the daemon's metrics)."""
        with self._db.read() as tx:
            return tx.jobs.ended_since(when)

    def running_jobs(self) -> list[str]:
        """Ids of the jobs this process's executor is running now (empty without one)."""
        executor = self._core.executor
        return executor.running_jobs() if executor is not None else []

    def backends(self) -> list[BackendInfo]:
        registry = self._core.registry
        return [registry.info(name) for name in registry.names()]

    # --- reviews and the audit log ------------------------------------------------------------

    def reviews(self, status: str | None = "pending_review", limit: int | None = 20,
                skip: int = 0) -> list[ProgramReview]:
        wanted = _review_status(status)
        with self._db.read() as tx:
            records = tx.reviews.list(  # an uploader sees the decisions on their own versions
                viewer=self.user, sees_all=self.is_admin, status=wanted,
                own_only=not self._reviewer(tx),
                limit=_page(limit, self._review_policy.max_page_size), skip=skip)
        return [ProgramReview(review_view(record, files=None, metadata={}, base_version=None,
                                          base_files=None, base_metadata=None,
                                          detailed=False), self)
                for record in records]

    def review(self, program_id: str, version: int) -> ProgramReview:
        with self._db.read() as tx:
            return ProgramReview(self._review_data(tx, program_id, version), self)

    def approve_version(self, program_id: str, version: int, comment: str = "") -> ProgramReview:
        return self._decide(program_id, version, ReviewStatus.APPROVED, comment)

    def reject_version(self, program_id: str, version: int, comment: str) -> ProgramReview:
        return self._decide(program_id, version, ReviewStatus.REJECTED, comment)

    def audit_log(self, since: datetime | None = None, actor: str | None = None,
                  action: str | None = None, object_id: str | None = None,
                  limit: int | None = 100, skip: int = 0) -> list[AuditRecord]:
        if not self.is_admin:
            raise PermissionDenied("only an admin may read the audit log")
        with self._db.read() as tx:
            return tx.audit.list(since=since, actor=actor, action=action, obj=object_id,
                                 limit=_page(limit, self._review_policy.max_page_size),
                                 skip=skip)

    # --- the JobSource interface (used by RuntimeJob) ----------------------------------------

    def job_record(self, job_id: str) -> JobRecord:
        with self._db.read() as tx:
            record = tx.jobs.get(job_id)
        if record is None or not self.may_see_job(record):
            raise JobNotFound(f"job {job_id!r} not found")
        return record

    def may_see_job(self, record: JobRecord) -> bool:
        """Whether this user may see the job (its owner, or an admin)."""
        return self.is_admin or record.owner == self.user

    def job_messages(self, job_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
        with self._db.read() as tx:
            return tx.jobs.messages(job_id, after_seq=after_seq)

    def cancel_job(self, job_id: str) -> None:
        record = self.job_record(job_id)
        self._require_owner(record.owner, f"job {job_id!r}")
        if record.is_final:
            raise InvalidJobState(
                f"job {job_id} has already ended ({record.status.value}); only a queued or "
                f"running job can be cancelled"
            )
        with self._db.write() as tx:
            after = tx.jobs.request_cancel(job_id)
            self._audit(tx, Action.JOB_CANCEL, job_id, {"program_id": record.program_id})
        if record.status is JobStatus.QUEUED and after is not None and after.is_final:
            job_log.ended(after)
        if self._core.executor is not None:
            self._core.executor.cancel(job_id)
        self._core.events.notify(job_id)

    def wait_for_job_change(self, job_id: str, timeout: float) -> None:
        events = self._core.events
        events.wait(job_id, events.version(job_id), timeout)

    # --- checks ------------------------------------------------------------------------------

    def _visible_program(self, tx: Any, program_id: str, *, with_files: bool = False
                         ) -> ProgramRecord:
        record = tx.programs.get(program_id, with_files=with_files)
        if record is None or not (
            record.is_public or self.is_admin or record.owner == self.user
        ):
            raise ProgramNotFound(f"program {program_id!r} not found")
        return record

    def _owned_program(self, tx: Any, program_id: str, *, with_files: bool = False
                       ) -> ProgramRecord:
        record = self._visible_program(tx, program_id, with_files=with_files)
        self._require_owner(record.owner, f"program {program_id!r}")
        return record

    def _audit(self, tx: Any, action: Action, obj: str, details: dict[str, Any]) -> None:
        tx.audit.append(actor=self.user, action=action, obj=obj, details=details,
                        origin=self._origin)

    def _record_version(self, tx: Any, action: Action, program_id: str, version: int,
                        status: ReviewStatus, report: Any) -> None:
        """Store a new version's review state and scan report, and audit its upload."""
        tx.reviews.record_scan(program_id, version, status=status, uploader=self.user,
                               scan_report=_report_json(report))
        self._audit(tx, action, program_id,
                    {"version": version, "review_status": str(status),
                     "findings": len(report.findings) if report is not None else 0})

    def _approved_version(self, tx: Any, program: ProgramRecord) -> Any:
        """The newest approved version of ``program`` with its files, or ProgramNotApproved."""
        number = tx.reviews.latest_approved(program.id)
        if number is None:
            pending = tx.reviews.pending(program.id)
            where = (f"its review: program-engine review show {program.id} {pending} "
                     f"(GET /v1/reviews/{program.id}/{pending})" if pending is not None
                     else "every version was rejected; upload a new one")
            raise ProgramNotApproved(
                f"program {program.id!r} has no approved version yet"
                + (f"; version {pending} is pending review" if pending is not None else "")
                + f"; {where}",
                program.id, pending,
                f"/v1/reviews/{program.id}/{pending}" if pending is not None else None)
        version = tx.programs.get_version(program.id, number)
        assert version is not None  # read in this same transaction
        return version

    def _reviewer(self, tx: Any) -> bool:
        if self.is_admin:
            return True
        if self._is_reviewer is not None:
            return self._is_reviewer
        user = tx.users.get(self.user)
        return user is not None and (user.is_reviewer or user.is_admin)

    def _review_data(self, tx: Any, program_id: str, version: int) -> dict[str, Any]:
        record = tx.reviews.get(program_id, version) if isinstance(version, int) else None
        if record is None or not (
            self.is_admin or record.owner == self.user
            or (record.is_public and self._reviewer(tx))
        ):
            raise ReviewNotFound(f"no version {version} of a program {program_id!r} to review")
        current = tx.programs.get_version(program_id, version)
        base = tx.reviews.latest_approved(program_id, before=version)
        previous = tx.programs.get_version(program_id, base) if base is not None else None
        return review_view(
            record, files=current.files, metadata=current.metadata, base_version=base,
            base_files=previous.files if previous else None,
            base_metadata=previous.metadata if previous else None)

    def _decide(self, program_id: str, version: int, status: ReviewStatus,
                comment: str) -> ProgramReview:
        comment = _comment(comment, self._review_policy.max_comment_length,
                           required=status is ReviewStatus.REJECTED)
        with self._db.write() as tx:
            found = tx.reviews.get(program_id, version) if isinstance(version, int) else None
            if found is None or not (found.is_public or self.is_admin
                                     or found.owner == self.user):
                raise ReviewNotFound(f"no version {version} of a program {program_id!r} to "
                                     "review")
            if not self._reviewer(tx):
                raise PermissionDenied(f"{self.user!r} is not a reviewer; only a reviewer or an "
                                       "admin may approve or reject a version")
            record = self._review_data(tx, program_id, version)
            if record["uploader"] == self.user and not self._review_policy.allow_self_approval:
                raise PermissionDenied(
                    f"{self.user!r} uploaded version {version} of {program_id!r}; another "
                    "reviewer must decide on it (policy: allow_self_approval is false)")
            if not tx.reviews.decide(program_id, version, status=status, reviewer=self.user,
                                     comment=comment):
                raise InvalidReviewState(
                    f"version {version} of {program_id!r} is {record['status']}, not "
                    "pending_review; only a pending version can be approved or rejected")
            action = Action.REVIEW_APPROVE if status is ReviewStatus.APPROVED \
                else Action.REVIEW_REJECT
            self._audit(tx, action, program_id, {"version": version, "comment": comment})
        return self.review(program_id, version)

    def _refuse_duplicate(self, name: str) -> None:
        with self._db.read() as tx:
            existing = tx.programs.owned_named(self.user, name)
        if existing:
            raise DuplicateProgram(
                f"you already have a program named {name!r} ({existing[0]}): update it with "
                f"update_program({existing[0]!r}, ...), or upload with new=True for another"
            )

    def _require_owner(self, owner: str, what: str) -> None:
        if not (self.is_admin or owner == self.user):
            raise PermissionDenied(f"{what} belongs to another user; only its owner may change it")



QiskitRuntimeService = RuntimeService


def _review_status(status: str | None) -> ReviewStatus | None:
    if status is None:
        return None
    try:
        return ReviewStatus(str(status).lower())
    except ValueError:
        raise InputValidationError(
            [("status", f"must be one of {', '.join(s.value for s in ReviewStatus)}, "
                        f"got {str(status)[:40]!r}")], what="query") from None


def _comment(comment: str, maximum: int, *, required: bool) -> str:
    if not isinstance(comment, str):
        raise InputValidationError([("comment", "must be text")], what="review")
    comment = comment.strip()
    if required and not comment:
        raise InputValidationError([("comment", "a rejection needs a comment saying why")],
                                   what="review")
    if len(comment) > maximum:
        raise InputValidationError(
            [("comment", f"at most {maximum} characters (policy: max_comment_length)")],
            what="review")
    return comment


def _page(limit: int | None, maximum: int) -> int:
    return maximum if limit is None else min(limit, maximum)


def _report_json(report: Any) -> str | None:
    import json

    return None if report is None else json.dumps(report.to_dict(), separators=(",", ":"))


def _load_upload(data: Any, metadata: Any) -> Any:
    from engine.loader import load_program_input
    from engine.metadata import ProgramMetadata, load_metadata

    meta = metadata if isinstance(metadata, ProgramMetadata) or metadata is None \
        else load_metadata(metadata)
    source = load_program_input(data, meta)
    if source.metadata is None:
        raise MetadataError(
            "metadata is required: give name, description and max_execution_time "
            "(as a dict, a JSON string, or a NAME.json beside the program)"
        )
    return source


def _build_image(source: Any) -> None:
    from engine.sandbox.images import ensure_program_image

    ensure_program_image(source.files)


def _scan_policy(policy: Any) -> Any:
    if policy is None:  # the default policy, loaded by the scan (importing it costs 65 ms)
        return None
    from engine.scan import ScanPolicy, load_scan_policy

    if isinstance(policy, ScanPolicy):
        return policy
    return load_scan_policy(policy)
