"""Admission of ``backend.run`` calls: what a call may ask, checked in two steps.

On the host, before anything is decoded: counts, payload size, run option names, shots, the
method, and each circuit's QPY header (its declared qubits against ``max_qubits`` and the
memory its method needs). In the job's worker, after decoding: the same against the circuits
as they are (every nested definition included), and the estimated time. Every refusal is a
:class:`BackendRejected` naming its limit.

Memory by method, per circuit of n qubits (16 bytes per complex amplitude): statevector
16·2ⁿ; density_matrix and unitary 16·4ⁿ; superop 16·16ⁿ (Aer's superoperator is a
4ⁿ-by-4ⁿ matrix, and Aer itself allows it a quarter of a statevector's qubits);
matrix_product_state n·2·χ² amplitudes for the policy's bond dimension χ.

Time by method: the state entries one gate touches (2ⁿ, 4ⁿ, 16ⁿ; χ³ for a product-state
gate, χ growing at most twofold per layer of multi-qubit gates up to the policy's bound;
n for stabilizer tableaux), times the gates after expanding every definition, times the
shots when each shot is simulated (a noise model, or an operation after a measurement),
over the policy's ``operations_per_second``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import psutil

from engine.backends.policy import AdmissionLimits
from engine.errors import BackendRejected, DecodeError

BYTES_PER_AMPLITUDE = 16
DEFAULT_SHOTS = 1024
_MAX_EXPANDED_GATES = 10**12  # counting stops here: far past any admissible estimate


@dataclass(frozen=True)
class CallPlan:
    """One call as the host admitted it, before any circuit is decoded."""

    backend: str  # canonical backend name
    method: str
    shots: int
    circuits: list[str]  # base64 QPY, as the sandbox sent them
    options: dict[str, Any]  # run options as plain JSON, decoded only in the worker
    declared_qubits: list[int]

    @property
    def total_shots(self) -> int:
        return self.shots * len(self.circuits)

    def request(self) -> dict[str, Any]:
        """The plain JSON the worker receives."""
        return {"backend": self.backend, "method": self.method, "shots": self.shots,
                "circuits": self.circuits, "options": self.options}


def plan_call(limits: AdmissionLimits, allowed_options: list[str], backend: str,
              default_method: str, circuits_b64: list[str], options: dict[str, Any]) -> CallPlan:
    """The host's checks of one call; nothing in it is decoded beyond QPY file headers."""
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
            "max_circuit_bytes",
        )
    unknown = sorted(set(options) - set(allowed_options))
    if unknown:
        raise BackendRejected(
            f"run options not allowed: {', '.join(unknown)} (allowed_run_options: "
            f"{', '.join(allowed_options)})",
            "allowed_run_options",
        )
    shots = options.get("shots", DEFAULT_SHOTS)
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        raise BackendRejected(f"shots must be a positive integer, got {shots!r}", "shots")
    if shots > limits.max_shots:
        raise BackendRejected(
            f"{shots} shots exceed admission.max_shots = {limits.max_shots}", "max_shots"
        )
    method = options.get("method") or default_method
    if not isinstance(method, str) or method not in limits.max_qubits:
        raise BackendRejected(
            f"method {method!r} is not offered (admission.max_qubits names "
            f"{', '.join(sorted(limits.max_qubits))})",
            "max_qubits",
        )
    declared = [_declared_qubits(c) for c in circuits_b64]
    if declared:  # the estimates grow with the qubits: the widest circuit decides
        check_size(limits, method, max(declared), shots, bool(options.get("memory")))
    return CallPlan(backend, method, shots, list(circuits_b64), dict(options), declared)


def check_size(limits: AdmissionLimits, method: str, num_qubits: int, shots: int,
               memory_records: bool) -> None:
    """Refuse a circuit too wide for its method, or whose simulation needs too much memory."""
    max_qubits = limits.max_qubits[method]
    if num_qubits > max_qubits:
        raise BackendRejected(
            f"a circuit with {num_qubits} qubits exceeds "
            f"admission.max_qubits.{method} = {max_qubits}",
            f"max_qubits.{method}",
        )
    memory = estimate_memory(method, num_qubits, shots, memory_records,
                             limits.mps_max_bond_dimension)
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


def check_decoded(limits: AdmissionLimits, method: str, circuits: list[Any], shots: int,
                  options: dict[str, Any]) -> None:
    """The worker's checks of decoded circuits: every nested definition's width, each
    circuit's memory, and the call's estimated time."""
    seconds = 0.0
    per_shot_noise = options.get("noise_model") is not None
    if circuits:  # the estimates grow with the qubits: the widest circuit decides
        widest = max(circuit.num_qubits for circuit in circuits)
        check_size(limits, method, widest, shots, bool(options.get("memory")))
    for circuit in circuits:
        _check_definitions(limits, method, circuit)
        gates = _expanded_size(circuit, {})
        repeats = shots if per_shot_noise or _samples_per_shot(circuit) else 1
        work = gates * repeats * _gate_cost(method, circuit, limits.mps_max_bond_dimension)
        seconds += work / limits.operations_per_second
    if seconds > limits.max_estimated_seconds:
        raise BackendRejected(
            f"estimated simulation time {seconds:.3g} s exceeds "
            f"admission.max_estimated_seconds = {limits.max_estimated_seconds:g}",
            "max_estimated_seconds",
        )


def estimate_memory(method: str, num_qubits: int, shots: int, memory_records: bool,
                    bond_dimension: int) -> int:
    """A deliberately simple upper estimate of one simulation's memory, in bytes."""
    if method in {"density_matrix", "unitary"}:
        state = BYTES_PER_AMPLITUDE * 4**num_qubits
    elif method == "superop":
        state = BYTES_PER_AMPLITUDE * 16**num_qubits
    elif method == "matrix_product_state":
        state = num_qubits * 2 * bond_dimension**2 * BYTES_PER_AMPLITUDE
    elif method in {"stabilizer", "extended_stabilizer"}:
        state = 2 * num_qubits * num_qubits
    else:
        state = BYTES_PER_AMPLITUDE * 2**num_qubits
    outcomes = min(shots, 2 ** min(num_qubits, 62)) * (num_qubits + 16)
    records = shots * (num_qubits + 8) if memory_records else 0
    return state + outcomes + records


def _gate_cost(method: str, circuit: Any, bond_dimension: int) -> int:
    """State entries one gate touches, for this method and circuit."""
    n = circuit.num_qubits
    if method in {"density_matrix", "unitary"}:
        return 4**n
    if method == "superop":
        return 16**n
    if method in {"stabilizer", "extended_stabilizer"}:
        return max(n, 1)
    if method == "matrix_product_state":
        layers = circuit.depth(
            lambda item: item.operation.num_qubits > 1 and item.operation.name != "barrier"
        )
        bond = min(bond_dimension, 2 ** min(n // 2, layers, 62))
        return max(bond, 1) ** 3
    return 2**n


def _expanded_size(circuit: Any, seen: dict[int, int]) -> int:
    """Gates after expanding every custom definition (each definition counted once)."""
    total = 0
    for item in circuit.data:
        operation = item.operation
        definition = getattr(operation, "_definition", None)
        blocks = getattr(operation, "blocks", ())
        if definition is not None:
            key = id(definition)
            if key not in seen:
                seen[key] = _expanded_size(definition, seen)
            total += seen[key]
        elif blocks:
            total += sum(_expanded_size(block, seen) for block in blocks)
        else:
            total += 1
        if total > _MAX_EXPANDED_GATES:
            return total
    return total


def _check_definitions(limits: AdmissionLimits, method: str, circuit: Any) -> None:
    """Refuse a custom definition or control-flow body wider than the method allows."""
    max_qubits = limits.max_qubits[method]
    stack, seen = [circuit], set()
    while stack:
        current = stack.pop()
        for item in current.data:
            operation = item.operation
            nested = [getattr(operation, "_definition", None), *getattr(operation, "blocks", ())]
            for inner in nested:
                if inner is None or id(inner) in seen:
                    continue
                seen.add(id(inner))
                if inner.num_qubits > max_qubits:
                    raise BackendRejected(
                        f"a definition of {operation.name!r} with {inner.num_qubits} qubits "
                        f"exceeds admission.max_qubits.{method} = {max_qubits}",
                        f"max_qubits.{method}",
                    )
                stack.append(inner)


def _samples_per_shot(circuit: Any) -> bool:
    """Whether Aer must simulate every shot: an operation after a measurement, or a reset."""
    measured: set[Any] = set()
    for item in circuit.data:
        name = item.operation.name
        if name == "reset" or getattr(item.operation, "blocks", ()):
            return True
        if name == "barrier":
            continue
        if measured.intersection(item.qubits) and name != "measure":
            return True
        if name == "measure":
            measured.update(item.qubits)
    return False


def _declared_qubits(circuit_b64: str) -> int:
    """The qubits a circuit's QPY header declares; the payload is not decoded further."""
    from engine.serialization import default_policy
    from engine.serialization.circuits import check_qpy

    try:
        raw = base64.b64decode(circuit_b64, validate=True)
        return check_qpy(raw, default_policy(), "backend_run circuit")
    except binascii.Error as exc:
        raise BackendRejected(f"a circuit is not valid base64: {exc}", "qpy") from None
    except DecodeError as exc:
        raise BackendRejected(str(exc), "qpy") from None
