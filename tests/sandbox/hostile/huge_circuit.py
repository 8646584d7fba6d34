"""Asks for 40 qubits and a billion shots; optionally catches the refusal and reports it."""

from qiskit import QuantumCircuit

from engine.errors import BackendRejected


def _circuit(num_qubits):
    circuit = QuantumCircuit(num_qubits)
    circuit.h(range(num_qubits))
    circuit.measure_all()
    return circuit


def main(backend, user_messenger, catch=True, num_qubits=40, shots=1_000_000_000):
    attempts = [
        {"num_qubits": num_qubits, "shots": shots},
        {"num_qubits": num_qubits, "shots": 10},
    ]
    report = []
    for attempt in attempts:
        circuit = _circuit(attempt["num_qubits"])
        if not catch:
            backend.run(circuit, shots=attempt["shots"]).result()
            continue
        try:
            backend.run(circuit, shots=attempt["shots"]).result()
        except BackendRejected as exc:
            report.append({"type": type(exc).__name__, "message": str(exc), "limit": exc.limit})
        else:
            report.append({"type": None, "message": "ran", "limit": None})
    return report
