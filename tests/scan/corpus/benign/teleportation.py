"""Teleports a random single-qubit state and checks it with a tomography-style estimate."""

import cmath
import random

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile


def teleport(theta: float, phi: float, basis: str) -> QuantumCircuit:
    q = QuantumRegister(3, "q")
    c0, c1 = ClassicalRegister(1, "c0"), ClassicalRegister(1, "c1")
    out = ClassicalRegister(1, "out")
    circuit = QuantumCircuit(q, c0, c1, out)
    circuit.u(theta, phi, 0, q[0])
    circuit.h(q[1])
    circuit.cx(q[1], q[2])
    circuit.cx(q[0], q[1])
    circuit.h(q[0])
    circuit.measure(q[0], c0)
    circuit.measure(q[1], c1)
    with circuit.if_test((c1, 1)):
        circuit.x(q[2])
    with circuit.if_test((c0, 1)):
        circuit.z(q[2])
    if basis == "X":
        circuit.h(q[2])
    elif basis == "Y":
        circuit.sdg(q[2])
        circuit.h(q[2])
    circuit.measure(q[2], out)
    return circuit


def main(backend, user_messenger, seed: int = 1, shots: int = 2000):
    rng = random.Random(seed)
    theta, phi = rng.uniform(0, 3.14), rng.uniform(0, 6.28)
    bloch = {}
    for basis in "XYZ":
        circuit = transpile(teleport(theta, phi, basis), backend)
        counts = backend.run(circuit, shots=shots).result().get_counts()
        ones = sum(c for bits, c in counts.items() if bits.split()[0] == "1")
        bloch[basis] = 1 - 2 * ones / shots
        user_messenger.publish({"basis": basis, "expectation": bloch[basis]})
    expected = cmath.rect(1, phi)
    return {"bloch": bloch, "phase_hint": [expected.real, expected.imag]}
