"""Estimates how close a prepared GHZ state is to the ideal one, from two kinds of
measurement: the computational basis (populations) and parity oscillations (coherence)."""

import math

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import Statevector


def ghz(num_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    return circuit


def populations(counts: dict[str, int], num_qubits: int) -> float:
    total = sum(counts.values())
    zeros, ones = "0" * num_qubits, "1" * num_qubits
    return (counts.get(zeros, 0) + counts.get(ones, 0)) / total


def parity_circuit(num_qubits: int, phi: float) -> QuantumCircuit:
    circuit = ghz(num_qubits)
    for qubit in range(num_qubits):
        circuit.rz(-phi, qubit)
        circuit.ry(-math.pi / 2, qubit)
    circuit.measure_all()
    return circuit


def parity(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return sum((-1) ** bits.count("1") * count for bits, count in counts.items()) / total


def main(backend, user_messenger, num_qubits: int = 3, shots: int = 2000, points: int = 8):
    ideal = Statevector.from_instruction(ghz(num_qubits))
    user_messenger.publish({"ideal_purity": float(ideal.purity().real)})

    base = ghz(num_qubits)
    base.measure_all()
    counts = backend.run(transpile(base, backend), shots=shots).result().get_counts()
    p = populations(counts, num_qubits)

    phases = np.linspace(0, 2 * math.pi, points, endpoint=False)
    circuits = transpile([parity_circuit(num_qubits, phi) for phi in phases], backend)
    result = backend.run(circuits, shots=shots).result()
    signal = np.array([parity(result.get_counts(i)) for i in range(points)])
    amplitude = 2 * abs(np.mean(signal * np.exp(-1j * num_qubits * phases)))
    fidelity = (p + amplitude) / 2
    user_messenger.publish({"populations": p, "coherence": float(amplitude)})
    return {"fidelity": float(fidelity), "populations": p, "coherence": float(amplitude)}
