"""Runs a batch of user circuits with a common transpilation, returning one result per
circuit in input order, and summarising the batch as it goes."""

from collections import Counter
from typing import Any

from qiskit import QuantumCircuit, transpile


def summarise(circuit: QuantumCircuit) -> dict[str, Any]:
    ops = Counter(instruction.operation.name for instruction in circuit.data)
    return {"name": circuit.name, "qubits": circuit.num_qubits, "ops": dict(ops)}


def main(backend, user_messenger, circuits: list[QuantumCircuit], shots: int = 1024,
         optimization_level: int = 1, **run_options: Any):
    if not circuits:
        raise ValueError("circuits must not be empty")
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuits[{index}] is not a QuantumCircuit")
    compiled = transpile(circuits, backend, optimization_level=optimization_level)
    user_messenger.publish({"batch": [summarise(c) for c in compiled]})
    options = {"shots": shots}
    options.update({k: v for k, v in run_options.items() if k in ("seed_simulator", "memory")})
    result = backend.run(compiled, **options).result()
    return [result.get_counts(i) for i in range(len(compiled))]
