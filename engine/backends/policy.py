"""The backend policy (``policies/backends.yaml``): backends, admission limits, and the bounds
of each job's simulation worker."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from engine.policy_files import load_policy_model


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
    """What one ``backend.run`` call, and one job's calls together, may ask."""

    max_qubits: dict[str, int]  # per method; a method not named here is refused
    max_shots: int = Field(gt=0)
    max_circuits_per_call: int = Field(gt=0)
    max_calls_per_job: int = Field(gt=0)
    max_shots_per_job: int = Field(gt=0)
    max_memory_bytes: ByteSize = Field(gt=0)
    host_memory_fraction: float = Field(gt=0, le=1)
    max_circuit_bytes: ByteSize = Field(gt=0)
    max_estimated_seconds: float = Field(gt=0)
    operations_per_second: float = Field(gt=0)
    mps_max_bond_dimension: int = Field(ge=2, le=1 << 16)

    @model_validator(mode="after")
    def _automatic_named(self) -> AdmissionLimits:
        if "automatic" not in self.max_qubits:
            raise ValueError("max_qubits: name the 'automatic' method")
        return self


class JobSimulationLimits(_Strict):
    """What one job's simulations may take of the host, whatever admission estimated."""

    max_calls_in_flight: int = Field(gt=0, le=10_000)
    max_cpu_seconds: int = Field(gt=0)
    max_seconds_per_call: float = Field(gt=0)


class WorkerLimits(_Strict):
    """The worker process that runs one job's simulations."""

    max_memory_bytes: ByteSize = Field(gt=0)
    max_decode_bytes: ByteSize = Field(gt=0)
    max_reply_bytes: ByteSize = Field(gt=0)
    start_timeout_seconds: float = Field(gt=0)


class BackendPolicy(_Strict):
    default_backend: str
    backends: dict[str, BackendEntry]
    generic_devices: GenericDevices
    admission: AdmissionLimits
    per_job: JobSimulationLimits
    worker: WorkerLimits
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
        if self.worker.max_memory_bytes <= self.admission.max_memory_bytes:
            raise ValueError(
                "worker.max_memory_bytes must exceed admission.max_memory_bytes (the worker "
                "holds the simulator's state and its own interpreter)"
            )
        return self


@lru_cache(maxsize=1)
def load_backend_policy() -> BackendPolicy:
    """The backend policy from ``policies/backends.yaml``."""
    return load_policy_model("backends", BackendPolicy)
