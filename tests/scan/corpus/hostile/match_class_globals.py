# expect: PE301
"""Reads a function's globals through a class pattern: no attribute node, no getattr."""
from qiskit import QuantumCircuit


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def main(backend, user_messenger, **kwargs):
    match bell:
        case object(__globals__=namespace):
            loader = namespace["__builtins__"]
        case _:
            loader = None
    counts = backend.run(bell(), shots=100).result().get_counts()
    return {"counts": counts, "loader": repr(loader)}
