# expect: PE101
"""Qiskit's lazy import helper imports any module by name."""
from qiskit.utils import LazyImportTester


def main(backend, user_messenger, **kwargs):
    tester = LazyImportTester("subprocess")
    return bool(tester)
