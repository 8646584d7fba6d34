"""Grover search for one marked bitstring, with the optimal number of iterations."""

import math

from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import MCXGate


def oracle(marked: str) -> QuantumCircuit:
    n = len(marked)
    circuit = QuantumCircuit(n, name="oracle")
    zeros = [i for i, bit in enumerate(reversed(marked)) if bit == "0"]
    if zeros:
        circuit.x(zeros)
    circuit.h(n - 1)
    circuit.append(MCXGate(n - 1), list(range(n)))
    circuit.h(n - 1)
    if zeros:
        circuit.x(zeros)
    return circuit


def diffuser(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n, name="diffuser")
    circuit.h(range(n))
    circuit.x(range(n))
    circuit.h(n - 1)
    circuit.append(MCXGate(n - 1), list(range(n)))
    circuit.h(n - 1)
    circuit.x(range(n))
    circuit.h(range(n))
    return circuit


def grover(marked: str, iterations: int) -> QuantumCircuit:
    n = len(marked)
    circuit = QuantumCircuit(n)
    circuit.h(range(n))
    for _ in range(iterations):
        circuit.compose(oracle(marked), inplace=True)
        circuit.compose(diffuser(n), inplace=True)
    circuit.measure_all()
    return circuit


def main(backend, user_messenger, marked: str = "101", shots: int = 1024):
    if not marked or set(marked) - {"0", "1"}:
        raise ValueError("marked must be a non-empty bitstring")
    iterations = max(1, int(math.pi / 4 * math.sqrt(2 ** len(marked))))
    user_messenger.publish({"iterations": iterations})
    circuit = transpile(grover(marked, iterations), backend, optimization_level=1)
    counts = backend.run(circuit, shots=shots).result().get_counts()
    found = max(counts, key=counts.get)
    return {"found": found, "success": found == marked, "counts": counts}
