"""A sample program whose results are instances of a custom class.

Each iteration runs a seeded random circuit and publishes a ``CircuitSummary``; the program
returns the summary whose most frequent outcome was the most likely. ``CircuitSummary`` has
``to_json()``, so ``RuntimeEncoder`` sends it as a JSON string, and ``SampleResultDecoder``
turns that string back into a ``CircuitSummary`` for the program's user::

    job.result(decoder=SampleResultDecoder)
"""

import json
from typing import Any

import numpy as np
from qiskit import transpile
from qiskit.circuit.random import random_circuit
from qiskit_ibm_runtime.program import ProgramBackend, ResultDecoder, UserMessenger


class CircuitSummary:
    """What one iteration measured: which random circuit ran and the counts it gave."""

    FIELDS = ("iteration", "circuit_seed", "shots", "counts")

    def __init__(self, iteration: int, circuit_seed: int, shots: int, counts: dict[str, int]):
        self.iteration = iteration
        self.circuit_seed = circuit_seed
        self.shots = shots
        self.counts = dict(counts)
        # Sorting first breaks ties between equally frequent outcomes the same way every time.
        self.most_frequent = max(sorted(self.counts), key=lambda outcome: self.counts[outcome])

    @property
    def peak_probability(self) -> float:
        """The measured probability of the most frequent outcome."""
        return self.counts[self.most_frequent] / self.shots

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON data."""
        return {
            "iteration": self.iteration,
            "circuit_seed": self.circuit_seed,
            "shots": self.shots,
            "counts": self.counts,
            "most_frequent": self.most_frequent,
        }

    def to_json(self) -> str:
        """Convert this instance to a JSON string (what ``RuntimeEncoder`` sends)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> "CircuitSummary":
        """Build a summary from :meth:`to_dict` data, checking its shape."""
        if not isinstance(data, dict):
            raise ValueError(f"CircuitSummary: expected an object, got {type(data).__name__}")
        missing = [name for name in cls.FIELDS if name not in data]
        if missing:
            raise ValueError(f"CircuitSummary: missing field(s) {', '.join(missing)}")
        counts = data["counts"]
        if not isinstance(counts, dict) or not counts:
            raise ValueError("CircuitSummary: 'counts' must be a non-empty object")
        for key, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"CircuitSummary: counts[{key!r}] must be a non-negative integer")
        for name in ("iteration", "circuit_seed", "shots"):
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"CircuitSummary: {name!r} must be an integer")
        if data["shots"] < 1:
            raise ValueError("CircuitSummary: 'shots' must be at least 1")
        return cls(data["iteration"], data["circuit_seed"], data["shots"], counts)

    @classmethod
    def from_json(cls, json_str: str) -> "CircuitSummary":
        """Return a ``CircuitSummary`` built from the JSON string :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(json_str))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CircuitSummary):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"CircuitSummary(iteration={self.iteration}, circuit_seed={self.circuit_seed}, "
            f"shots={self.shots}, most_frequent={self.most_frequent!r})"
        )


class SampleResultDecoder(ResultDecoder):
    """Turns this program's interim and final results back into ``CircuitSummary`` objects."""

    @classmethod
    def decode(cls, data: Any) -> CircuitSummary:
        data = super().decode(data)
        if isinstance(data, CircuitSummary):
            return data
        if isinstance(data, str):
            return CircuitSummary.from_json(data)
        return CircuitSummary.from_dict(data)


def main(
    backend: ProgramBackend,
    user_messenger: UserMessenger,
    iterations: int = 3,
    num_qubits: int = 3,
    depth: int = 3,
    shots: int = 1024,
    seed: int | None = None,
    seed_simulator: int | None = None,
) -> CircuitSummary:
    """Run ``iterations`` random circuits, publish a summary of each, return the most peaked.

    ``seed`` fixes the random circuits and their transpilation; ``seed_simulator`` is passed
    to ``backend.run``, so together they make a run reproducible.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if num_qubits > backend.num_qubits:
        raise ValueError(
            f"num_qubits={num_qubits} is more than the backend's {backend.num_qubits} qubits"
        )
    rng = np.random.default_rng(seed)
    run_options: dict[str, Any] = {"shots": shots}
    if seed_simulator is not None:
        run_options["seed_simulator"] = seed_simulator

    best = None
    for iteration in range(iterations):
        circuit_seed = int(rng.integers(2**31))
        circuit = random_circuit(num_qubits, depth, measure=True, seed=circuit_seed)
        circuit = transpile(circuit, backend, seed_transpiler=circuit_seed)
        counts = backend.run(circuit, **run_options).result().get_counts()
        summary = CircuitSummary(iteration, circuit_seed, shots, counts)
        user_messenger.publish(summary)
        if best is None or summary.peak_probability > best.peak_probability:
            best = summary
    return best
