"""VQE for the two-qubit hydrogen Hamiltonian, with energies estimated from counts."""

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from scipy.optimize import minimize

# H2 at 0.735 angstrom, parity mapping, two qubits.
HAMILTONIAN = [("II", -1.052373245772859), ("IZ", 0.39793742484318045),
               ("ZI", -0.39793742484318045), ("ZZ", -0.01128010425623538),
               ("XX", 0.18093119978423156)]


@dataclass
class Evaluation:
    iteration: int
    energy: float
    parameters: list[float]


def ansatz(reps: int) -> QuantumCircuit:
    theta = ParameterVector("θ", 2 * (reps + 1))
    circuit = QuantumCircuit(2)
    for layer in range(reps + 1):
        circuit.ry(theta[2 * layer], 0)
        circuit.ry(theta[2 * layer + 1], 1)
        if layer < reps:
            circuit.cx(0, 1)
    return circuit


def measured(circuit: QuantumCircuit, basis: str) -> QuantumCircuit:
    out = circuit.copy()
    for qubit, pauli in enumerate(reversed(basis)):
        if pauli == "X":
            out.h(qubit)
    out.measure_all()
    return out


def expectation(counts: dict[str, int], pauli: str) -> float:
    total = sum(counts.values())
    value = 0
    for bits, count in counts.items():
        sign = 1
        for bit, p in zip(bits, pauli, strict=True):
            if p != "I" and bit == "1":
                sign = -sign
        value += sign * count
    return value / total


def main(backend, user_messenger, reps: int = 1, shots: int = 4000, maxiter: int = 60):
    circuit = ansatz(reps)
    bases = ["ZZ", "XX"]
    templates = transpile([measured(circuit, b) for b in bases], backend)
    history: list[Evaluation] = []

    def energy(values: np.ndarray) -> float:
        bound = [t.assign_parameters(values) for t in templates]
        result = backend.run(bound, shots=shots).result()
        by_basis = {b: result.get_counts(i) for i, b in enumerate(bases)}
        total = 0.0
        for pauli, coefficient in HAMILTONIAN:
            if pauli == "II":
                total += coefficient
                continue
            basis = "XX" if "X" in pauli else "ZZ"
            total += coefficient * expectation(by_basis[basis], pauli)
        history.append(Evaluation(len(history), total, [float(v) for v in values]))
        user_messenger.publish({"iteration": len(history), "energy": total})
        return total

    rng = np.random.default_rng(5)
    outcome = minimize(energy, rng.uniform(-np.pi, np.pi, circuit.num_parameters),
                       method="COBYLA", options={"maxiter": maxiter})
    return {"energy": float(outcome.fun), "evaluations": len(history)}
