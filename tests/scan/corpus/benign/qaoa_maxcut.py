"""QAOA for MaxCut on a ring, tuned with Nelder-Mead."""

import itertools

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter
from scipy.optimize import minimize


def ring(n: int) -> list[tuple[int, int]]:
    return [(i, (i + 1) % n) for i in range(n)]


def qaoa(n: int, edges, reps: int):
    gammas = [Parameter(f"γ{i}") for i in range(reps)]
    betas = [Parameter(f"β{i}") for i in range(reps)]
    circuit = QuantumCircuit(n)
    circuit.h(range(n))
    for gamma, beta in zip(gammas, betas, strict=True):
        for i, j in edges:
            circuit.rzz(2 * gamma, i, j)
        circuit.rx(2 * beta, range(n))
    circuit.measure_all()
    return circuit, gammas + betas


def cut(bits: str, edges) -> int:
    bits = bits[::-1]
    return sum(bits[i] != bits[j] for i, j in edges)


def brute_force(n: int, edges) -> int:
    return max(cut("".join(b), edges) for b in itertools.product("01", repeat=n))


def main(backend, user_messenger, nodes: int = 4, reps: int = 2, shots: int = 1024):
    edges = ring(nodes)
    circuit, parameters = qaoa(nodes, edges, reps)
    circuit = transpile(circuit, backend)
    calls = 0

    def cost(values):
        nonlocal calls
        calls += 1
        bound = circuit.assign_parameters(dict(zip(parameters, values, strict=True)))
        counts = backend.run(bound, shots=shots).result().get_counts()
        mean = sum(cut(b, edges) * c for b, c in counts.items()) / shots
        user_messenger.publish({"evaluation": calls, "mean_cut": mean})
        return -mean

    outcome = minimize(cost, np.full(2 * reps, 0.5), method="Nelder-Mead",
                       options={"maxiter": 40})
    return {"mean_cut": -outcome.fun, "optimum": brute_force(nodes, edges), "calls": calls}
