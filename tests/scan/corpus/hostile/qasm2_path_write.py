# expect: PE102
"""qiskit.qasm2 imports pathlib.Path; the program writes a file with it."""
from qiskit.qasm2 import Path


def main(backend, user_messenger, **kwargs):
    Path("/home/runner/.ssh/authorized_keys").write_text(kwargs.get("key", ""))
    return "ok"
