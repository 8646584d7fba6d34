"""Turning a request into a :class:`~engine.job_spec.JobSpec`: every check a job gets, once.

The embedded service, the daemon (through the service) and ``program-engine run`` all come
through here, so a job is checked in one place and nowhere below:

- :func:`review` scans every Python file of a program with the scan policy;
- :func:`check_options` refuses unknown run options;
- :func:`build_job_spec` encodes the inputs with ``RuntimeEncoder``, decodes them with
  ``RuntimeDecoder`` and validates them against ``spec.parameters``, checks the backend
  against ``spec.backend_requirements`` and the resource profile against the sandbox policy,
  and returns the spec;
- :func:`run_program` is the local shortcut (``program-engine run``, tests, benchmarks): load a
  program from a path or source text, build its spec, and run it in a sandbox here.

Telling a path from source text happens in :func:`engine.loader.looks_like_path`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.errors import InputValidationError, ProgramRejected
from engine.job_spec import JobLimits, JobSpec
from engine.sandbox.policy import ResourceProfile

if TYPE_CHECKING:
    from engine.backends import BackendRegistry
    from engine.loader import ProgramSource
    from engine.metadata import ProgramMetadata
    from engine.sandbox.execution import InterimMessage, Outcome

#: The options ``run`` accepts.
RUN_OPTIONS = ("backend", "backend_name", "profile", "log_level")
#: The user of a local run (``program-engine run``), which has no store and no owner.
LOCAL_USER = "local"


def review(source: ProgramSource, policy: Any = None, *, reject: bool = True) -> Any:
    """Scan every Python file of ``source``; return the :class:`~engine.scan.Report`.

    With ``reject`` (the default), a rejected program raises :class:`ProgramRejected` with
    the whole report.
    """
    from engine.scan import scan_files

    report = scan_files(
        {name: data for name, data in source.files.items() if name.endswith(".py")},
        policy=policy,
    )
    if reject and not report.accepted:
        raise ProgramRejected(report)
    return report


def check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` as a dict; :class:`InputValidationError` naming every unknown key."""
    if options is not None and not isinstance(options, Mapping):
        raise InputValidationError(
            [("options", f"must be an object, not {type(options).__name__}")], what="options"
        )
    options = dict(options or {})
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise InputValidationError(
            [(f"options.{key}", f"unknown option (known: {', '.join(RUN_OPTIONS)})")
             for key in unknown],
            what="options",
        )
    return options


def encode_inputs(metadata: ProgramMetadata | None, inputs: Mapping[str, Any] | None) -> str:
    """The inputs as ``RuntimeEncoder`` text, validated against ``spec.parameters``.

    They are validated as the program will receive them: encoded, then decoded.
    """
    from engine.metadata import validate_inputs
    from engine.runtime_program import ParameterNamespace
    from engine.serialization import RuntimeDecoder, RuntimeEncoder

    if isinstance(inputs, ParameterNamespace):
        inputs.validate()
        inputs = inputs.to_dict()
    if inputs is not None and not isinstance(inputs, Mapping):
        raise InputValidationError(
            [("inputs", f"must be a mapping of parameter names to values, not "
                        f"{type(inputs).__name__}")],
            what="inputs",
        )
    encoded = json.dumps(dict(inputs or {}), cls=RuntimeEncoder)
    if metadata is not None:
        validate_inputs(metadata, json.loads(encoded, cls=RuntimeDecoder))
    return encoded


def build_job_spec(
    *,
    job_id: str,
    user: str,
    entry: str,
    files: Mapping[str, bytes],
    metadata: ProgramMetadata | None,
    inputs: Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
    registry: BackendRegistry,
    program_id: str | None = None,
    program_version: int | None = None,
    max_execution_time: float | None = None,
    resources: ResourceProfile | None = None,
) -> JobSpec:
    """Check a job and return its spec; raise before anything runs or is stored.

    Local runs only: ``max_execution_time`` replaces the metadata's (up to the policy's
    maximum), and ``resources`` replaces the named profile's limits.
    """
    from engine.sandbox.policy import load_sandbox_policy

    options = check_options(options)
    backend = options.get("backend") or options.get("backend_name")
    backend = backend or registry.policy.default_backend
    registry.resolve(backend)  # raises for an unknown backend
    if metadata is not None:
        registry.check_requirements(backend, metadata.spec.backend_requirements)
    sandbox_policy = load_sandbox_policy()
    profile = options.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise InputValidationError([("options.profile", "must be a profile name")],
                                   what="options")
    resources = resources or sandbox_policy.profile(profile)  # raises for an unknown one
    limit = _execution_time(metadata, max_execution_time,
                            sandbox_policy.timing.default_max_execution_time)
    return JobSpec(
        job_id=job_id,
        user=user,
        program_id=program_id,
        program_version=program_version,
        entry=entry,
        files=dict(files),
        metadata=metadata.to_dict() if metadata is not None else {},
        inputs=encode_inputs(metadata, inputs),
        backend=backend,
        profile=profile,
        resources=resources,
        limits=JobLimits(max_execution_time=limit),
    )


def _execution_time(metadata: ProgramMetadata | None, requested: float | None,
                    default: float) -> float:
    """The job's wall-time limit: the metadata's (or the sandbox policy's default), unless a
    local run asks for another within the metadata policy's maximum."""
    from engine.metadata import metadata_policy

    if requested is None:
        return float(metadata.max_execution_time) if metadata is not None else float(default)
    maximum = float(metadata_policy().max_execution_time.maximum)
    if not 0 < requested <= maximum:
        raise InputValidationError(
            [("max_execution_time", f"must be more than 0 and at most {maximum:g} seconds "
                                    f"(the metadata policy's maximum), got {requested:g}")],
            what="options",
        )
    return float(requested)


def run_program(
    program: Any,
    inputs: Mapping[str, Any] | None = None,
    *,
    backend: str | None = None,
    metadata: Any = None,
    profile: str | ResourceProfile | None = None,
    max_execution_time: float | None = None,
    on_interim: Callable[[InterimMessage], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    job_id: str | None = None,
    registry: BackendRegistry | None = None,
    **sandbox: Any,
) -> Outcome:
    """Run ``program`` once in a fresh sandbox here, without a store; return its Outcome.

    ``program`` is a path, source text or a loaded ``ProgramSource``; ``metadata`` (a dict,
    JSON text, path or ``ProgramMetadata``) replaces its own. The job is checked exactly as a
    stored one (:func:`build_job_spec`) and run by :func:`engine.sandbox.run_job`; bad
    arguments raise before any container exists. ``sandbox`` goes to ``run_job`` (``client``,
    ``policy``, ``pool``).
    """
    from engine.loader import ProgramSource, load_program_input
    from engine.metadata import ProgramMetadata, load_metadata
    from engine.sandbox.execution import default_registry, run_job

    if metadata is not None and not isinstance(metadata, ProgramMetadata):
        metadata = load_metadata(metadata)
    if isinstance(program, ProgramSource):
        source = program
    else:
        source = load_program_input(program, metadata)
    registry = registry or default_registry()
    resources = profile if isinstance(profile, ResourceProfile) else None
    options = {"backend": backend, "profile": None if resources else profile}
    spec = build_job_spec(
        job_id=job_id or f"run-{uuid.uuid4().hex[:12]}",
        user=LOCAL_USER,
        entry=source.entry,
        files=source.files,
        metadata=metadata or source.metadata,
        inputs=inputs,
        options={key: value for key, value in options.items() if value is not None},
        registry=registry,
        max_execution_time=max_execution_time,
        resources=resources,
    )
    return run_job(spec, on_interim=on_interim, cancel=cancel, on_log=on_log, registry=registry,
                   **sandbox)
