"""Sweeps a rotation angle and keeps a scratch copy of each result under /tmp."""

import json
import logging
import math

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter

LOG = logging.getLogger(__name__)
SCRATCH = "/tmp/sweep-results.json"


class SweepPoint:
    def __init__(self, angle: float, probability: float):
        self.angle = angle
        self.probability = probability

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> "SweepPoint":
        return cls(**json.loads(text))


def main(backend, user_messenger, points: int = 9, shots: int = 512, tag: str = "run"):
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    circuit = transpile(circuit, backend)
    results = []
    for angle in np.linspace(0, math.pi, points):
        counts = backend.run(circuit.assign_parameters({theta: angle}), shots=shots)
        counts = counts.result().get_counts()
        point = SweepPoint(float(angle), counts.get("1", 0) / shots)
        results.append(point)
        user_messenger.publish(point)
        LOG.info("angle %.3f done", angle)
    with open(SCRATCH, "w") as handle:
        json.dump([p.__dict__ for p in results], handle)
    with open(f"/tmp/{tag}-summary.txt", "w") as handle:
        handle.write(str(len(results)))
    with open(SCRATCH) as handle:
        stored = json.load(handle)
    return {"points": stored, "options": getattr(backend, "options", None) is not None}
