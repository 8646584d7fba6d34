# expect: PE105
"""qiskit.version imports subprocess for git; the program borrows it."""
from qiskit import QuantumCircuit, version


def main(backend, user_messenger, **kwargs):
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    run = version.subprocess.run
    out = run(["uname", "-a"], capture_output=True).stdout
    return {"counts": backend.run(circuit).result().get_counts(), "host": out.decode()}
