"""Host-side backends that serve ``backend.run()`` for sandboxed programs.

A registry (``policies/backends.yaml``) names the backends: Aer simulators by method, the
alias ``ibmq_qasm_simulator``, and fake devices ``fake_<N>q`` built with ``GenericBackendV2``.
Every call passes admission first (qubits per method, shots, circuits per call, calls and
shots per job, estimated memory against the policy and the host's free memory), so a hostile
program cannot make the host simulate 40 qubits. A refusal is a :class:`BackendRejected` that
names the limit; the sandbox raises it inside the program, which may catch it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psutil
from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from engine.errors import BackendError, BackendRejected, DecodeError
from engine.metadata import BackendRequirements
from engine.policy_files import load_policy_model
from engine.protocol import BackendDescription
from engine.serialization import RuntimeDecoder, RuntimeEncoder

_GENERIC_NAME = re.compile(r"^fake_(\d{1,4})q$")
_BYTES_PER_AMPLITUDE = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendEntry(_Strict):
    method: str | None = None
    alias: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BackendEntry:
        if (self.method is None) == (self.alias is None):
            raise ValueError("give exactly one of 'method' or 'alias'")
        return self


class GenericDevices(_Strict):
    max_qubits: int = Field(ge=1, le=1000)
    seed: int = 42


class AdmissionLimits(_Strict):
    max_qubits: dict[str, int]
    max_shots: int = Field(gt=0)
    max_circuits_per_call: int = Field(gt=0)
    max_calls_per_job: int = Field(gt=0)
    max_shots_per_job: int = Field(gt=0)
    max_memory_bytes: ByteSize = Field(gt=0)
    host_memory_fraction: float = Field(gt=0, le=1)
    max_circuit_bytes: ByteSize = Field(gt=0)


class BackendPolicy(_Strict):
    default_backend: str
    backends: dict[str, BackendEntry]
    generic_devices: GenericDevices
    admission: AdmissionLimits
    allowed_run_options: list[str]
    workers: int = Field(ge=1, le=64)
    max_parallel_threads: int = Field(ge=0, le=256)

    @model_validator(mode="after")
    def _names_resolve(self) -> BackendPolicy:
        for name, entry in self.backends.items():
            if entry.alias is not None and entry.alias not in self.backends:
                raise ValueError(f"backends.{name}.alias: unknown backend {entry.alias!r}")
        if self.default_backend not in self.backends:
            raise ValueError(f"default_backend: unknown backend {self.default_backend!r}")
        return self


@lru_cache(maxsize=1)
def load_backend_policy() -> BackendPolicy:
    """The backend policy from ``policies/backends.yaml``."""
    return load_policy_model("backends", BackendPolicy)


@dataclass
class JobUsage:
    """What one job has asked of the backends so far; admission reads and updates it."""

    calls: int = 0
    shots: int = 0
    circuits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class BackendRegistry:
    """Resolves backend names, describes them for the sandbox, and serves admitted calls."""

    def __init__(self, policy: BackendPolicy | None = None) -> None:
        self.policy = policy or load_backend_policy()
        self._descriptions: dict[str, BackendDescription] = {}
        self._local = threading.local()  # each thread's own backend objects
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.policy.workers, thread_name_prefix="backend")

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
        match = _GENERIC_NAME.match(name)
        if match and 1 <= int(match.group(1)) <= self.policy.generic_devices.max_qubits:
            return name
        known = ", ".join(self.names())
        raise BackendError(
            f"unknown backend {name!r}; known: {known}, or fake_<N>q with "
            f"N <= {self.policy.generic_devices.max_qubits}"
        )

    def method(self, name: str) -> str:
        entry = self.policy.backends.get(self.resolve(name))
        return entry.method if entry is not None and entry.method else "automatic"

    def get(self, name: str | None) -> Any:
        """This thread's host backend object for ``name``.

        Backend objects are never shared between threads: Qiskit builds a backend's ``Target``
        lazily in native code, and concurrent first uses of one object have crashed the
        process. Each thread (the simulation workers, the request threads) builds its own.
        """
        canonical = self.resolve(name)
        instances = self._local.__dict__.setdefault("instances", {})
        backend = instances.get(canonical)
        if backend is None:
            backend = instances[canonical] = self._build(canonical)
        return backend

    def _build(self, name: str) -> Any:
        match = _GENERIC_NAME.match(name)
        if match:
            from qiskit.providers.fake_provider import GenericBackendV2

            return GenericBackendV2(
                num_qubits=int(match.group(1)), seed=self.policy.generic_devices.seed
            )
        from qiskit_aer import AerSimulator

        options: dict[str, Any] = {"method": self.method(name)}
        if self.policy.max_parallel_threads:
            options["max_parallel_threads"] = self.policy.max_parallel_threads
        return AerSimulator(**options)

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
        match = _GENERIC_NAME.match(canonical)
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
        """Admit one ``backend.run`` call and run it on the worker pool.

        Admission happens here, synchronously, so a refusal never reaches a simulator. The
        future's value is the RuntimeEncoder JSON of the ``Result``.
        """
        circuits, run_options = self.admit(name, circuits_b64, options, usage)
        return self._pool.submit(self._execute, name, circuits, run_options)

    def admit(
        self, name: str, circuits_b64: list[str], options: dict[str, Any], usage: JobUsage
    ) -> tuple[list[Any], dict[str, Any]]:
        """Check one call against every limit; return the circuits and run options."""
        limits = self.policy.admission
        if len(circuits_b64) > limits.max_circuits_per_call:
            raise BackendRejected(
                f"{len(circuits_b64)} circuits in one call exceed "
                f"admission.max_circuits_per_call = {limits.max_circuits_per_call}",
                "max_circuits_per_call",
            )
        if sum(len(c) for c in circuits_b64) > limits.max_circuit_bytes * 4 // 3 + 4:
            raise BackendRejected(
                f"circuits payload larger than admission.max_circuit_bytes "
                f"({int(limits.max_circuit_bytes)} bytes)",
                limit="max_circuit_bytes",
            )
        run_options = self._check_options(options)
        shots = run_options.get("shots", 1024)
        if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
            raise BackendRejected(f"shots must be a positive integer, got {shots!r}", "shots")
        if shots > limits.max_shots:
            raise BackendRejected(
                f"{shots} shots exceed admission.max_shots = {limits.max_shots}", "max_shots"
            )
        circuits = [_load_circuit(c) for c in circuits_b64]
        method = str(run_options.get("method") or self.method(name))
        max_qubits = limits.max_qubits.get(method, limits.max_qubits.get("automatic", 0))
        memory = 0
        for circuit in circuits:
            if circuit.num_qubits > max_qubits:
                raise BackendRejected(
                    f"a circuit with {circuit.num_qubits} qubits exceeds "
                    f"admission.max_qubits.{method} = {max_qubits}",
                    f"max_qubits.{method}",
                )
            memory = max(memory, _estimate_memory(method, circuit.num_qubits, shots, run_options))
        if memory > limits.max_memory_bytes:
            raise BackendRejected(
                f"estimated simulator memory {memory} bytes exceeds admission.max_memory_bytes = "
                f"{int(limits.max_memory_bytes)}",
                "max_memory_bytes",
            )
        available = psutil.virtual_memory().available * limits.host_memory_fraction
        if memory > available:
            raise BackendRejected(
                f"estimated simulator memory {memory} bytes exceeds "
                f"admission.host_memory_fraction of the host's available memory "
                f"({int(available)} bytes)",
                "host_memory_fraction",
            )
        with usage.lock:
            if usage.calls + 1 > limits.max_calls_per_job:
                raise BackendRejected(
                    f"more than admission.max_calls_per_job = {limits.max_calls_per_job} calls",
                    "max_calls_per_job",
                )
            total = usage.shots + shots * len(circuits)
            if total > limits.max_shots_per_job:
                raise BackendRejected(
                    f"{total} shots in this job exceed admission.max_shots_per_job = "
                    f"{limits.max_shots_per_job}",
                    "max_shots_per_job",
                )
            usage.calls += 1
            usage.shots = total
            usage.circuits += len(circuits)
        return circuits, run_options

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.policy.allowed_run_options))
        if unknown:
            raise BackendRejected(
                f"run options not allowed: {', '.join(unknown)} (allowed_run_options: "
                f"{', '.join(self.policy.allowed_run_options)})",
                "allowed_run_options",
            )
        try:
            return json.loads(json.dumps(options), cls=RuntimeDecoder)
        except (TypeError, ValueError) as exc:
            raise BackendRejected(f"invalid run options: {exc}", "allowed_run_options") from None

    def _execute(self, name: str, circuits: list[Any], options: dict[str, Any]) -> str:
        result = self.get(name).run(circuits, **options).result()
        return json.dumps(result, cls=RuntimeEncoder)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _load_circuit(circuit_b64: str) -> Any:
    """One circuit from hostile QPY: headers checked before Qiskit allocates anything."""
    from engine.serialization import default_policy
    from engine.serialization.circuits import read_circuit

    try:
        raw = base64.b64decode(circuit_b64, validate=True)
        return read_circuit(raw, default_policy(), "backend_run circuit")
    except binascii.Error as exc:
        raise BackendRejected(f"a circuit is not valid base64: {exc}", "qpy") from None
    except DecodeError as exc:
        raise BackendRejected(str(exc), "qpy") from None


def _estimate_memory(method: str, num_qubits: int, shots: int, options: dict[str, Any]) -> int:
    """A deliberately simple upper estimate of one simulation's memory, in bytes."""
    if method == "density_matrix":
        state = _BYTES_PER_AMPLITUDE * 4**num_qubits
    elif method == "matrix_product_state":
        state = num_qubits * 2 * 64 * 64 * _BYTES_PER_AMPLITUDE
    elif method in {"stabilizer", "extended_stabilizer"}:
        state = 2 * num_qubits * num_qubits
    else:
        state = _BYTES_PER_AMPLITUDE * 2**num_qubits
    outcomes = min(shots, 2**min(num_qubits, 62)) * (num_qubits + 16)
    memory_records = shots * (num_qubits + 8) if options.get("memory") else 0
    return state + outcomes + memory_records
