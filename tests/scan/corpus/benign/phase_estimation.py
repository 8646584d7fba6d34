"""Quantum phase estimation of a single-qubit phase gate."""

import math
from fractions import Fraction

from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import QFT


def qpe(phase: float, precision: int) -> QuantumCircuit:
    circuit = QuantumCircuit(precision + 1, precision)
    circuit.x(precision)
    circuit.h(range(precision))
    for qubit in range(precision):
        circuit.cp(2 * math.pi * phase * 2**qubit, qubit, precision)
    circuit.compose(QFT(precision, inverse=True), range(precision), inplace=True)
    circuit.measure(range(precision), range(precision))
    return circuit


def main(backend, user_messenger, phase: float = 0.3125, precision: int = 4, shots: int = 2048):
    if not 0 <= phase < 1:
        raise ValueError("phase must be in [0, 1)")
    circuit = transpile(qpe(phase, precision), backend, seed_transpiler=3)
    counts = backend.run(circuit, shots=shots).result().get_counts()
    best = max(counts, key=counts.get)
    estimate = int(best, 2) / 2**precision
    user_messenger.publish({"best": best, "estimate": estimate})
    return {
        "estimate": estimate,
        "as_fraction": str(Fraction(estimate).limit_denominator(2**precision)),
        "error": abs(estimate - phase),
    }
