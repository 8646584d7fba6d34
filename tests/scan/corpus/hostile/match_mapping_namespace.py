# expect: PE305
"""A mapping pattern on a module's namespace picks the subprocess module out of it."""
import qiskit.version


def main(backend, user_messenger, **kwargs):
    match getattr(qiskit.version, "__dict__"):
        case {"subprocess": runner}:
            return runner.check_output(["id"]).decode()
    return qiskit.version.get_version_info()
