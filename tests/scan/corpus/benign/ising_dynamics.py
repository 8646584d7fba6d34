"""Trotterised dynamics of a transverse-field Ising chain; magnetisation over time."""

import math
from dataclasses import dataclass, asdict

from qiskit import QuantumCircuit, transpile


@dataclass(frozen=True)
class Model:
    sites: int = 4
    coupling: float = 1.0
    field: float = 0.7


def trotter_step(model: Model, dt: float) -> QuantumCircuit:
    step = QuantumCircuit(model.sites, name="step")
    for i in range(model.sites - 1):
        step.rzz(2 * model.coupling * dt, i, i + 1)
    step.rx(2 * model.field * dt, range(model.sites))
    return step


def evolve(model: Model, steps: int, dt: float) -> QuantumCircuit:
    circuit = QuantumCircuit(model.sites)
    for _ in range(steps):
        circuit.compose(trotter_step(model, dt), inplace=True)
    circuit.measure_all()
    return circuit


def magnetisation(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    value = 0.0
    for bits, count in counts.items():
        value += count * sum(1 if b == "0" else -1 for b in bits) / len(bits)
    return value / total


def main(backend, user_messenger, time: float = 2.0, steps: int = 8, shots: int = 1000, **model):
    settings = Model(**model)
    dt = time / steps
    trace = []
    for k in range(steps + 1):
        circuit = transpile(evolve(settings, k, dt), backend)
        counts = backend.run(circuit, shots=shots).result().get_counts()
        trace.append({"t": k * dt, "m": magnetisation(counts)})
        user_messenger.publish(trace[-1])
    return {"model": asdict(settings), "trace": trace, "period_hint": math.pi / settings.field}
