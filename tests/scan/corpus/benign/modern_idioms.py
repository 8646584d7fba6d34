"""A Bell-state run written with the Python the scanner must read correctly, not reject:
match statements, literal format strings, logging to stderr, **dicts and np.savez."""

import json
import logging
from dataclasses import dataclass, replace

import numpy as np
from qiskit import QuantumCircuit, transpile
from scipy.optimize import minimize

log = logging.getLogger(__name__)
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
ROW = "{name:<10} {energy:>12.6f}"


@dataclass
class Settings:
    shots: int = 1024
    reps: int = 2


def describe(result):
    match result:
        case {"counts": counts, **rest}:
            return "counts: {}".format(len(counts))
        case [first, *others]:
            return f"{first!r} and {len(others)} more"
        case Settings(shots=shots):
            return "shots={0}".format(shots)
        case _:
            return str(result)


def main(backend, user_messenger, **kwargs):
    settings = replace(Settings(), **{k: v for k, v in kwargs.items() if k in ("shots", "reps")})
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    counts = backend.run(transpile(circuit, backend), shots=settings.shots).result().get_counts()
    arrays = {"x": np.arange(3), "y": np.ones(2)}
    np.savez("/tmp/run.npz", **arrays)
    outcome = minimize(lambda x: float(x @ x), np.ones(2), method="COBYLA", options={"maxiter": 5})
    log.info(ROW.format(name="vqe", energy=float(outcome.fun)))
    user_messenger.publish(json.dumps({"counts": counts}, sort_keys=True))
    width = 8
    return {"summary": describe({"counts": counts}), "pad": f"{'x':>{width}}"}
