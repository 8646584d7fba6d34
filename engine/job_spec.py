"""``JobSpec``: everything one job needs to run, checked once, typed, and nothing else.

The service (or ``program-engine run``, through the same code in :mod:`engine.submission`)
builds a spec after every check: metadata, the scan, input validation, backend requirements
and the resource profile. Everything below it takes the spec as given and checks nothing
again: :func:`engine.sandbox.run_job` runs it, the local executor hands it over as it is, and
the Ray executor sends it to a node as the task's one argument.

A queued job travels through the store: the service stores the spec's fields in the job's
row and the program version holds its files, so an executor (in this process or another)
reassembles the same spec with :meth:`JobSpec.from_records`, without re-checking anything.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.records import JobRecord, ProgramVersionRecord
from engine.sandbox.policy import ResourceProfile, load_sandbox_policy


class JobLimits(BaseModel):
    """The limits of one job that come from its program, not from the resource profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_execution_time: float = Field(gt=0, description="Wall-time limit in seconds.")


class JobSpec(BaseModel):
    """One checked job, ready to run in a sandbox.

    ``files`` maps each relative POSIX path of the program to its bytes, ``entry`` is the
    module holding ``main``; ``metadata`` is the checked metadata as stored (empty for a
    local run of a bare file without any); ``inputs`` is the ``RuntimeEncoder`` text of
    ``main``'s keyword arguments, already validated against ``spec.parameters``;
    ``backend`` is the backend's name as the caller gave it (an alias stays an alias: the
    program sees that name), and it meets ``spec.backend_requirements``;
    ``profile`` names a resource profile of ``policies/sandbox.yaml`` (``None``: the
    default one) and ``resources`` holds its limits.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(min_length=1, max_length=64)
    user: str = Field(min_length=1)
    program_id: str | None = None
    program_version: int | None = None
    entry: str = Field(min_length=1)
    files: dict[str, bytes] = Field(repr=False)
    metadata: dict[str, Any] = Field(default_factory=dict, repr=False)
    inputs: str = Field(repr=False)
    backend: str = Field(min_length=1)
    profile: str | None = None
    resources: ResourceProfile
    limits: JobLimits

    @classmethod
    def from_records(cls, job: JobRecord, version: ProgramVersionRecord) -> JobSpec:
        """The spec of a stored job: its row and the program version it runs (with files).

        The service checked all of it before storing it; this only puts it back together.
        """
        metadata = version.metadata
        return cls(
            job_id=job.id,
            user=job.owner,
            program_id=job.program_id,
            program_version=job.program_version,
            entry=version.entry,
            files=dict(version.files or {}),
            metadata=metadata,
            inputs=job.inputs,
            backend=job.backend,
            profile=job.profile,
            resources=load_sandbox_policy().profile(job.profile),
            limits=JobLimits(max_execution_time=float(metadata["max_execution_time"])),
        )
