"""Prepares Bell pairs, samples them, and reports how often the two qubits agree."""

from typing import Any

from qiskit import QuantumCircuit, transpile


def bell_circuit(pairs: int) -> QuantumCircuit:
    """``pairs`` independent Bell pairs on qubits (0, 1), (2, 3), ..."""
    circuit = QuantumCircuit(2 * pairs, 2 * pairs, name=f"bell_x{pairs}")
    for pair in range(pairs):
        circuit.h(2 * pair)
        circuit.cx(2 * pair, 2 * pair + 1)
    circuit.measure(range(2 * pairs), range(2 * pairs))
    return circuit


def agreement(counts: dict[str, int], pairs: int) -> float:
    """The fraction of shots in which every pair measured equal bits."""
    total = sum(counts.values())
    agreeing = 0
    for bits, count in counts.items():
        bits = bits[::-1]
        if all(bits[2 * p] == bits[2 * p + 1] for p in range(pairs)):
            agreeing += count
    return agreeing / total if total else 0.0


def main(backend, user_messenger, pairs: int = 1, shots: int = 1000, **kwargs: Any):
    if pairs < 1 or 2 * pairs > backend.num_qubits:
        raise ValueError(f"pairs must be between 1 and {backend.num_qubits // 2}")
    circuit = transpile(bell_circuit(pairs), backend, seed_transpiler=11)
    counts = backend.run(circuit, shots=shots).result().get_counts()
    score = agreement(counts, pairs)
    user_messenger.publish({"pairs": pairs, "agreement": score})
    return {"counts": counts, "agreement": score}
