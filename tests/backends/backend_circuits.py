"""Circuits for the backend tests, as the sandbox sends them (base64 QPY), and the bombs."""

from __future__ import annotations

import base64
import io

from qiskit import QuantumCircuit, qpy

BOMB_QUBITS = 12_000_000


def qpy_b64(*circuits: QuantumCircuit) -> list[str]:
    """Each circuit as one base64 QPY payload."""
    payloads = []
    for circuit in circuits:
        buffer = io.BytesIO()
        qpy.dump(circuit, buffer)
        payloads.append(base64.b64encode(buffer.getvalue()).decode())
    return payloads


def bell(n: int = 2) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for q in range(1, n):
        circuit.cx(0, q)
    circuit.measure_all()
    return circuit


def brickwork(n: int, layers: int) -> QuantumCircuit:
    """Rotations and alternating CX layers: entangling, so every simulator works hard."""
    circuit = QuantumCircuit(n)
    for layer in range(layers):
        for q in range(n):
            circuit.rx(0.1 * (q + layer + 1), q)
        for start in (0, 1):
            for q in range(start, n - 1, 2):
                circuit.cx(q, q + 1)
    circuit.measure_all()
    return circuit


def nested_definition_bomb() -> str:
    """A few hundred bytes of QPY whose custom gate's definition claims 12 million qubits.

    The gate is applied to 3 of 5 qubits; its definition is a 3-qubit circuit. In the QPY
    bytes the value 3 as a 4-byte count appears first in the custom instruction's header
    and then in its definition's circuit header: the second is overwritten."""
    inner = QuantumCircuit(3)
    inner.h(0)
    gate = inner.to_gate()
    gate.name = "mygate"
    outer = QuantumCircuit(5)
    outer.append(gate, [0, 1, 2])
    (payload,) = qpy_b64(outer)
    raw = bytearray(base64.b64decode(payload))
    needle = (3).to_bytes(4, "big")
    first = raw.find(needle)
    second = raw.find(needle, first + 1)
    raw[second : second + 4] = BOMB_QUBITS.to_bytes(4, "big")
    return base64.b64encode(bytes(raw)).decode()
