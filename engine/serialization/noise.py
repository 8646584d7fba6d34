"""Aer noise models as ``NoiseModel.to_dict()``, checked before ``NoiseModel.from_dict`` runs.

``from_dict`` builds a circuit as wide as the largest qubit index it finds, so an index of a
billion allocates a billion qubits, and it rebuilds every error in Python (40,000 errors take
a minute). The dict's shape, every qubit index, the number of errors and the number of
instructions are checked here first; Aer is imported only when a noise model is decoded.
"""

from __future__ import annotations

import warnings
from typing import Any

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization.plain import as_plain
from engine.serialization.policy import DecodeLimits


def _bad(rule: str) -> DecodeError:
    return DecodeError(f"NoiseModel: {rule}")


def _check_qubits(qubits: Any, where: str, limits: DecodeLimits) -> None:
    if not isinstance(qubits, list) or not qubits:
        raise _bad(f"{where} must be a non-empty list of qubit indices")
    for qubit in qubits:
        if type(qubit) is not int or not 0 <= qubit < limits.max_noise_model_qubits:
            raise _bad(
                f"{where} holds {qubit!r}; qubit indices are integers from 0 to "
                f"max_noise_model_qubits - 1 ({limits.max_noise_model_qubits - 1})"
            )


def check_noise_dict(value: Any, limits: DecodeLimits) -> None:
    """Refuse a noise-model dict whose structure or qubit indices break the rules."""
    if not isinstance(value, dict):
        raise _bad("value must be an object")
    errors = value.get("errors", [])
    if not isinstance(errors, list):
        raise _bad("errors must be a list")
    if len(errors) > limits.max_noise_model_errors:
        raise DecodeBudgetExceeded(
            f"NoiseModel: {len(errors)} errors exceed max_noise_model_errors "
            f"{limits.max_noise_model_errors}",
            "max_noise_model_errors",
        )
    steps = 0
    for number, error in enumerate(errors):
        where = f"errors[{number}]"
        if not isinstance(error, dict) or error.get("type") not in ("qerror", "roerror"):
            raise _bad(f"{where} must be an object with type 'qerror' or 'roerror'")
        gate_qubits = error.get("gate_qubits")
        if gate_qubits is not None:
            if not isinstance(gate_qubits, list):
                raise _bad(f"{where}.gate_qubits must be a list")
            for index, qubits in enumerate(gate_qubits):
                _check_qubits(qubits, f"{where}.gate_qubits[{index}]", limits)
        if not isinstance(error.get("probabilities"), list):
            raise _bad(f"{where}.probabilities must be a list")
        if error["type"] == "roerror":
            continue
        operations = error.get("operations")
        if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
            raise _bad(f"{where}.operations must be a list of instruction names")
        instructions = error.get("instructions")
        if not isinstance(instructions, list):
            raise _bad(f"{where}.instructions must be a list")
        for index, sequence in enumerate(instructions):
            if not isinstance(sequence, list) or not sequence:
                raise _bad(f"{where}.instructions[{index}] must be a non-empty list")
            steps += len(sequence)
            if steps > limits.max_noise_model_instructions:
                raise DecodeBudgetExceeded(
                    f"NoiseModel: more than max_noise_model_instructions "
                    f"{limits.max_noise_model_instructions} instructions (at {where})",
                    "max_noise_model_instructions",
                )
            for step, inst in enumerate(sequence):
                place = f"{where}.instructions[{index}][{step}]"
                if not isinstance(inst, dict) or not isinstance(inst.get("name"), str):
                    raise _bad(f"{place} must be an object with a name")
                _check_qubits(inst.get("qubits"), f"{place}.qubits", limits)


def read_noise_model(value: Any, limits: DecodeLimits) -> Any:
    """The ``NoiseModel`` a checked dict describes."""
    check_noise_dict(value, limits)
    try:
        from qiskit_aer.noise import NoiseModel
    except ImportError:
        return as_plain(value, "NoiseModel: Qiskit Aer is needed to restore noise model")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return NoiseModel.from_dict(value)
    except Exception as exc:
        raise _bad(f"Aer refused the noise model ({type(exc).__name__}: {exc})") from None
