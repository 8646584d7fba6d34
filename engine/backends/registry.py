"""The backend registry: names, descriptions, requirements, and the door to simulation.

A registry (``policies/backends.yaml``) names the backends: Aer simulators by method, the
alias ``ibmq_qasm_simulator``, and fake devices ``fake_<N>q`` built with ``GenericBackendV2``.
Every call passes admission (:mod:`engine.backends.admission`) on the host before anything is
decoded, then runs in its job's worker process (:mod:`engine.backends.simulations`), which
decodes, admits what it decoded, and simulates. A refusal is a :class:`BackendRejected` that
names the limit; the sandbox raises it inside the program, which may catch it.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.backends.admission import CallPlan, plan_call
from engine.backends.devices import GENERIC_NAME, build_backend
from engine.backends.policy import BackendPolicy, load_backend_policy
from engine.backends.simulations import JobEnded, JobSimulations, start_fork_server
from engine.errors import BackendError, BackendRejected
from engine.metadata import BackendRequirements
from engine.protocol import BackendDescription

if TYPE_CHECKING:
    from engine.documents import BackendInfo


@dataclass
class JobUsage:
    """What one job has asked of the backends so far, and its simulations; admission reads
    and updates it. :meth:`close` ends the job's simulations."""

    calls: int = 0
    shots: int = 0
    circuits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    simulations: JobSimulations | None = field(default=None, repr=False)
    closed: bool = False

    def close(self) -> None:
        """Kill the job's simulation worker and fail its queued calls; idempotent."""
        with self.lock:
            self.closed = True
            simulations = self.simulations
        if simulations is not None:
            simulations.close()

    def refund(self, plan: CallPlan) -> None:
        """Give back what a refused call had reserved."""
        with self.lock:
            self.calls -= 1
            self.shots -= plan.total_shots
            self.circuits -= len(plan.circuits)


class BackendRegistry:
    """Resolves backend names, describes them for the sandbox, and serves admitted calls."""

    def __init__(self, policy: BackendPolicy | None = None) -> None:
        self.policy = policy or load_backend_policy()
        self._descriptions: dict[str, BackendDescription] = {}
        self._local = threading.local()  # each thread's own backend objects
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(self.policy.workers)  # simulations at once, host-wide
        self._jobs: weakref.WeakSet[JobSimulations] = weakref.WeakSet()

    # --- names -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The configured backend names (fake devices ``fake_<N>q`` are also accepted)."""
        return sorted(self.policy.backends)

    def resolve(self, name: str | None) -> str:
        """The canonical name of ``name`` (aliases followed); raises for an unknown name."""
        name = name or self.policy.default_backend
        entry = self.policy.backends.get(name)
        if entry is not None:
            return entry.alias or name
        match = GENERIC_NAME.match(name)
        if match and 1 <= int(match.group(1)) <= self.policy.generic_devices.max_qubits:
            return name
        known = ", ".join(self.names())
        raise BackendError(
            f"unknown backend {name!r}; known: {known}, or fake_<N>q with "
            f"N <= {self.policy.generic_devices.max_qubits}"
        )

    def info(self, name: str) -> BackendInfo:
        """What a caller may know of backend ``name`` and of its admission limits."""
        from engine.documents import BackendInfo

        canonical = self.resolve(name)
        description = self.describe(canonical)
        method = self.method(canonical)
        admission = self.policy.admission
        max_qubits = admission.max_qubits.get(method, admission.max_qubits["automatic"])
        return BackendInfo(
            name=name,
            alias_of=canonical if canonical != name else None,
            method=method,
            simulator=canonical in self.policy.backends,
            num_qubits=description.num_qubits,
            max_qubits=min(max_qubits, description.num_qubits),
            max_shots=admission.max_shots,
            basis_gates=sorted(description.operations),
            coupling_map=description.coupling_map,
        )

    def method(self, name: str) -> str:
        entry = self.policy.backends.get(self.resolve(name))
        return entry.method if entry is not None and entry.method else "automatic"

    def get(self, name: str | None) -> Any:
        """This thread's host backend object for ``name``.

        Backend objects are never shared between threads: Qiskit builds a backend's ``Target``
        lazily in native code, and concurrent first uses of one object have crashed the
        process. Each thread builds its own; simulations run in each job's worker process.
        """
        canonical = self.resolve(name)
        instances = self._local.__dict__.setdefault("instances", {})
        backend = instances.get(canonical)
        if backend is None:
            backend = instances[canonical] = build_backend(
                self.policy, canonical, self.method(canonical)
            )
        return backend

    def describe(self, name: str | None) -> BackendDescription:
        """What the sandbox needs to build a matching ``Target`` (computed once per backend)."""
        canonical = self.resolve(name)
        with self._lock:
            description = self._descriptions.get(canonical)
            if description is None:
                description = self._descriptions[canonical] = self._describe(canonical)
        return description.model_copy(update={"name": name or canonical})

    def _describe(self, canonical: str) -> BackendDescription:
        backend = self.get(canonical)
        target = backend.target
        operations: dict[str, list[list[int]] | None] = {}
        for op_name in target.operation_names:
            qargs = target.qargs_for_operation_name(op_name)
            operations[op_name] = None if qargs is None else [list(q) for q in qargs]
        coupling = backend.coupling_map
        return BackendDescription(
            name=canonical,
            num_qubits=backend.num_qubits,
            operations=operations,
            coupling_map=None if coupling is None else [list(e) for e in coupling.get_edges()],
            max_circuits=getattr(backend, "max_circuits", None),
        )

    def check_requirements(self, name: str | None, requirements: BackendRequirements) -> None:
        """Raise :class:`BackendError` naming every ``spec.backend_requirements`` entry the
        backend does not meet."""
        canonical = self.resolve(name)
        unmet = requirements.unmet(
            name=name or canonical,
            num_qubits=self.num_qubits(canonical),
            basis_gates=tuple(self.describe(canonical).operations),
        )
        if unmet:
            raise BackendError(
                "backend does not meet spec.backend_requirements: " + "; ".join(unmet)
            )

    def num_qubits(self, name: str | None) -> int:
        canonical = self.resolve(name)
        match = GENERIC_NAME.match(canonical)
        if match:
            return int(match.group(1))
        method = self.method(canonical)
        return self.policy.admission.max_qubits.get(
            method, self.describe(canonical).num_qubits
        )

    # --- admission and execution -----------------------------------------------------------

    def submit(
        self, name: str, circuits_b64: list[str], options: dict[str, Any], usage: JobUsage
    ) -> Future[str]:
        """Admit one ``backend.run`` call on the host and queue it in the job's worker.

        The host's checks happen here, synchronously, so their refusals never reach a worker;
        the worker's own checks (of the decoded circuits) fail the future with a
        :class:`BackendRejected`. The future's value is the RuntimeEncoder JSON of the
        ``Result``.
        """
        plan = self.admit(name, circuits_b64, options, usage)
        try:
            future = self._simulations(usage).submit(plan)
        except BackendError:
            usage.refund(plan)
            raise
        future.add_done_callback(lambda done: self._refund_refused(done, usage, plan))
        return future

    def admit(
        self, name: str, circuits_b64: list[str], options: dict[str, Any], usage: JobUsage
    ) -> CallPlan:
        """Check one call against the host's limits and reserve it in the job's usage."""
        limits = self.policy.admission
        canonical = self.resolve(name)
        plan = plan_call(limits, self.policy.allowed_run_options, canonical,
                         self.method(canonical), circuits_b64, options)
        with usage.lock:
            if usage.closed:
                raise JobEnded("the job has ended; no more backend calls run for it")
            if usage.calls + 1 > limits.max_calls_per_job:
                raise BackendRejected(
                    f"more than admission.max_calls_per_job = {limits.max_calls_per_job} calls",
                    "max_calls_per_job",
                )
            total = usage.shots + plan.total_shots
            if total > limits.max_shots_per_job:
                raise BackendRejected(
                    f"{total} shots in this job exceed admission.max_shots_per_job = "
                    f"{limits.max_shots_per_job}",
                    "max_shots_per_job",
                )
            usage.calls += 1
            usage.shots = total
            usage.circuits += len(plan.circuits)
        return plan

    def end_job(self, usage: JobUsage) -> None:
        """End one job's simulations at once (its worker is killed); idempotent."""
        usage.close()

    def worker_pids(self) -> list[int]:
        """Process ids of the live simulation workers of this registry's jobs."""
        return [pid for job in list(self._jobs) if (pid := job.worker_pid) is not None]

    def close(self) -> None:
        """End every job's simulations."""
        for job in list(self._jobs):
            job.close()

    def prepare_workers(self) -> None:
        """Get the simulation workers' fork server going while a job's sandbox starts."""
        start_fork_server()

    def _simulations(self, usage: JobUsage) -> JobSimulations:
        with usage.lock:
            if usage.closed:
                raise JobEnded("the job has ended; no more backend calls run for it")
            if usage.simulations is None:
                usage.simulations = JobSimulations(self.policy, self._slots)
                self._jobs.add(usage.simulations)
            return usage.simulations

    @staticmethod
    def _refund_refused(future: Future[str], usage: JobUsage, plan: CallPlan) -> None:
        if not future.cancelled() and isinstance(future.exception(), BackendRejected):
            usage.refund(plan)
