"""Single-qubit randomized benchmarking with Clifford sequences."""

from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import Clifford, random_clifford
from scipy.optimize import curve_fit


@lru_cache(maxsize=None)
def lengths(maximum: int, points: int) -> tuple[int, ...]:
    return tuple(sorted({int(x) for x in np.geomspace(1, maximum, points)}))


def sequence(length: int, seed: int) -> QuantumCircuit:
    circuit = QuantumCircuit(1)
    total = Clifford(circuit)
    for index in range(length):
        element = random_clifford(1, seed=seed + index)
        circuit.compose(element.to_circuit(), inplace=True)
        total = total.compose(element)
    circuit.compose(total.adjoint().to_circuit(), inplace=True)
    circuit.measure_all()
    return circuit


def decay(m, a, p, b):
    return a * p**m + b


def main(backend, user_messenger, maximum: int = 64, points: int = 6, samples: int = 5):
    survival = []
    for length in lengths(maximum, points):
        circuits = transpile([sequence(length, 100 * s) for s in range(samples)], backend)
        result = backend.run(circuits, shots=256).result()
        values = [result.get_counts(i).get("0", 0) / 256 for i in range(samples)]
        survival.append(float(np.mean(values)))
        user_messenger.publish({"length": length, "survival": survival[-1]})
    xs = np.array(lengths(maximum, points), dtype=float)
    (a, p, b), _ = curve_fit(decay, xs, survival, p0=[0.5, 0.99, 0.5], maxfev=5000)
    return {"p": float(p), "error_per_clifford": float((1 - p) / 2)}
