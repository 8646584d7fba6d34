"""QAOA for MaxCut on a small graph.

The graph is a list of edges ``[i, j]`` or ``[i, j, weight]`` between nodes ``0..n-1``. The
cost to minimise is the energy ``-E[cut]``, the negated mean cut value of the sampled
bitstrings, estimated from the counts of one ``backend.run`` per evaluation; a SciPy optimizer
tunes the ``reps`` pairs of angles ``(gamma, beta)``. The answer is the best cut among the
samples at the optimal angles. Bitstrings are in Qiskit's order: the rightmost character is
node 0.
"""

import math
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from scipy.optimize import minimize

# A five-node graph whose maximum cut is 5 (of its 6 edges).
DEFAULT_EDGES = [[0, 1], [0, 2], [1, 2], [1, 3], [2, 4], [3, 4]]
OPTIMIZERS = ("COBYLA", "Nelder-Mead", "Powell")


def parse_edges(edges: Any) -> tuple[int, list[tuple[int, int, float]]]:
    """Check ``[[i, j], [i, j, weight], ...]``; return the node count and weighted edges."""
    if not isinstance(edges, list) or not edges:
        raise ValueError("edges must be a non-empty list of [i, j] or [i, j, weight]")
    parsed = []
    for index, edge in enumerate(edges):
        if not isinstance(edge, (list, tuple)) or len(edge) not in (2, 3):
            raise ValueError(f"edges[{index}] must be [i, j] or [i, j, weight]")
        i, j = edge[0], edge[1]
        for node in (i, j):
            if isinstance(node, bool) or not isinstance(node, int) or node < 0:
                raise ValueError(f"edges[{index}] has a node that is not a non-negative integer")
        if i == j:
            raise ValueError(f"edges[{index}] joins node {i} to itself")
        weight = edge[2] if len(edge) == 3 else 1.0
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"edges[{index}] has a weight that is not a number")
        if not math.isfinite(weight):
            raise ValueError(f"edges[{index}] has a weight that is not finite")
        parsed.append((i, j, float(weight)))
    num_nodes = 1 + max(max(i, j) for i, j, _ in parsed)
    return num_nodes, parsed


def cut_value(bitstring: str, edges: list[tuple[int, int, float]]) -> float:
    """The total weight of the edges whose ends ``bitstring`` puts on different sides."""
    last = len(bitstring) - 1
    return sum(w for i, j, w in edges if bitstring[last - i] != bitstring[last - j])


def qaoa_circuit(
    num_nodes: int, edges: list[tuple[int, int, float]], reps: int
) -> tuple[QuantumCircuit, ParameterVector, ParameterVector]:
    """The QAOA circuit with ``reps`` cost and mixer layers, measured on every qubit."""
    gamma = ParameterVector("gamma", reps)
    beta = ParameterVector("beta", reps)
    circuit = QuantumCircuit(num_nodes, num_nodes, name="qaoa")
    circuit.h(range(num_nodes))
    for layer in range(reps):
        for i, j, w in edges:
            circuit.rzz(2 * gamma[layer] * w, i, j)
        circuit.rx(2 * beta[layer], range(num_nodes))
    circuit.measure(range(num_nodes), range(num_nodes))
    return circuit, gamma, beta


def main(
    backend,
    user_messenger,
    edges: list | None = None,
    reps: int = 1,
    optimizer: str = "COBYLA",
    maxiter: int = 50,
    shots: int = 1024,
    initial_point: list | None = None,
    seed: int | None = None,
    seed_simulator: int | None = None,
) -> dict[str, Any]:
    """Find a maximum cut of the graph; publish every energy evaluation.

    ``parameters`` are ``[gamma_1..gamma_reps, beta_1..beta_reps]``. ``seed`` fixes the
    random initial point and the transpilation; ``seed_simulator`` is passed to
    ``backend.run``.
    """
    num_nodes, graph = parse_edges(DEFAULT_EDGES if edges is None else edges)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if num_nodes > backend.num_qubits:
        raise ValueError(f"the graph has {num_nodes} nodes; the backend has {backend.num_qubits}")

    circuit, gamma, beta = qaoa_circuit(num_nodes, graph, reps)
    parameters = list(gamma) + list(beta)
    rng = np.random.default_rng(seed)
    if initial_point is None:
        x0 = np.concatenate([rng.uniform(0, math.pi, reps), rng.uniform(0, math.pi / 2, reps)])
    else:
        x0 = np.asarray(initial_point, dtype=float)
        if x0.shape != (2 * reps,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"initial_point must be {2 * reps} finite numbers")
    seed_transpiler = None if seed is None else int(seed)
    circuit = transpile(circuit, backend, seed_transpiler=seed_transpiler)
    run_options: dict[str, Any] = {"shots": shots}
    if seed_simulator is not None:
        run_options["seed_simulator"] = seed_simulator

    def sample(values: np.ndarray) -> dict[str, int]:
        bound = circuit.assign_parameters(dict(zip(parameters, values, strict=True)), strict=False)
        return backend.run(bound, **run_options).result().get_counts()

    def energy_of(counts: dict[str, int]) -> float:
        total = sum(counts.values())
        return -sum(count * cut_value(bits, graph) for bits, count in counts.items()) / total

    evaluations = 0

    def objective(values: np.ndarray) -> float:
        nonlocal evaluations
        value = energy_of(sample(values))
        user_messenger.publish(
            {"iteration": evaluations, "energy": value, "parameters": [float(v) for v in values]}
        )
        evaluations += 1
        return value

    outcome = minimize(objective, x0, method=optimizer, options={"maxiter": maxiter})
    counts = sample(outcome.x)
    # The best cut among the samples; ties go to the more frequent, then the smaller bitstring.
    best = min(counts, key=lambda bits: (-cut_value(bits, graph), -counts[bits], bits))
    return {
        "cut": best,
        "partition": [int(best[num_nodes - 1 - node]) for node in range(num_nodes)],
        "cut_value": cut_value(best, graph),
        "energy": energy_of(counts),
        "parameters": [float(v) for v in outcome.x],
        "iterations": evaluations,
        "reps": reps,
    }
