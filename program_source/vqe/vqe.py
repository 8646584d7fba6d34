"""Variational quantum eigensolver for a small Hamiltonian given as Pauli terms.

The Hamiltonian is a list of ``[pauli_string, coefficient]`` pairs (Qiskit's qubit order: the
rightmost character acts on qubit 0); the default is the hydrogen molecule at 0.735 angstrom in
a two-qubit form. The ansatz is hardware-efficient (layers of RY rotations joined by a CX
chain). Every energy is estimated from measured counts: the terms are grouped so that terms
which commute qubit by qubit share one measurement circuit, and each evaluation is a single
``backend.run`` of those circuits. A SciPy optimizer minimises the estimate.
"""

import math
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize

# H2 at 0.735 angstrom (STO-3G, parity mapping with two-qubit reduction), in hartree.
DEFAULT_HAMILTONIAN = [
    ["II", -1.052373245772859],
    ["IZ", 0.39793742484318045],
    ["ZI", -0.39793742484318045],
    ["ZZ", -0.01128010425623538],
    ["XX", 0.18093119978423156],
]
OPTIMIZERS = ("COBYLA", "Nelder-Mead", "Powell")
# Beyond this many qubits the exact energy (a dense diagonalisation) is not computed.
MAX_EXACT_QUBITS = 8


def parse_hamiltonian(terms: Any) -> list[tuple[str, float]]:
    """Check ``[[pauli_string, coefficient], ...]`` and return it as a list of tuples."""
    if not isinstance(terms, list) or not terms:
        raise ValueError("hamiltonian must be a non-empty list of [pauli_string, coefficient]")
    parsed = []
    for index, term in enumerate(terms):
        if not isinstance(term, (list, tuple)) or len(term) != 2:
            raise ValueError(f"hamiltonian[{index}] must be a [pauli_string, coefficient] pair")
        label, coeff = term
        if not isinstance(label, str) or not label or set(label) - set("IXYZ"):
            raise ValueError(f"hamiltonian[{index}][0] must be a string of I, X, Y and Z")
        if len(label) != len(parsed[0][0] if parsed else label):
            raise ValueError(f"hamiltonian[{index}][0] has a different length than the others")
        if isinstance(coeff, bool) or not isinstance(coeff, (int, float)):
            raise ValueError(f"hamiltonian[{index}][1] must be a real number")
        if not math.isfinite(coeff):
            raise ValueError(f"hamiltonian[{index}][1] must be finite")
        parsed.append((label, float(coeff)))
    return parsed


def group_terms(labels: list[str]) -> list[str]:
    """Group Pauli labels that commute qubit by qubit; return one measurement basis per group.

    A basis is a label whose character on each qubit is the Pauli measured there (``I`` where
    no term of the group acts, measured in Z).
    """
    bases: list[list[str]] = []
    for label in labels:
        if set(label) == {"I"}:
            continue
        for basis in bases:
            if all(b in ("I", p) or p == "I" for b, p in zip(basis, label, strict=True)):
                for position, pauli in enumerate(label):
                    if pauli != "I":
                        basis[position] = pauli
                break
        else:
            bases.append(list(label))
    return ["".join(basis) for basis in bases]


def ansatz(num_qubits: int, reps: int) -> tuple[QuantumCircuit, ParameterVector]:
    """A hardware-efficient ansatz: RY on every qubit, then ``reps`` times a CX chain and RY."""
    theta = ParameterVector("theta", num_qubits * (reps + 1))
    circuit = QuantumCircuit(num_qubits)
    for layer in range(reps + 1):
        if layer:
            for qubit in range(num_qubits - 1):
                circuit.cx(qubit, qubit + 1)
        for qubit in range(num_qubits):
            circuit.ry(theta[layer * num_qubits + qubit], qubit)
    return circuit, theta


def measurement_circuit(state: QuantumCircuit, basis: str) -> QuantumCircuit:
    """``state`` followed by the rotation into ``basis`` and a measurement of every qubit."""
    num_qubits = state.num_qubits
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"), ClassicalRegister(num_qubits, "c"))
    circuit.compose(state, inplace=True)
    for position, pauli in enumerate(basis):
        qubit = num_qubits - 1 - position
        if pauli == "X":
            circuit.h(qubit)
        elif pauli == "Y":
            circuit.sdg(qubit)
            circuit.h(qubit)
    circuit.measure(range(num_qubits), range(num_qubits))
    circuit.name = f"basis_{basis}"
    return circuit


def expectation(label: str, counts: dict[str, int]) -> float:
    """The expectation of Pauli ``label`` from counts measured in a basis that covers it."""
    positions = [position for position, pauli in enumerate(label) if pauli != "I"]
    total = 0
    signed = 0
    for bitstring, count in counts.items():
        ones = sum(bitstring[position] == "1" for position in positions)
        signed += -count if ones % 2 else count
        total += count
    return signed / total


def covering_basis(label: str, bases: list[str]) -> int:
    """The index of the first basis that measures every non-identity factor of ``label``."""
    for index, basis in enumerate(bases):
        if all(p == "I" or p == b for p, b in zip(label, basis, strict=True)):
            return index
    raise ValueError(f"no measurement basis covers {label}")


def main(
    backend,
    user_messenger,
    hamiltonian: list | None = None,
    reps: int = 1,
    optimizer: str = "COBYLA",
    maxiter: int = 100,
    shots: int = 4096,
    initial_point: list | None = None,
    seed: int | None = None,
    seed_simulator: int | None = None,
) -> dict[str, Any]:
    """Minimise the estimated energy of ``hamiltonian``; publish every evaluation.

    ``seed`` fixes the random initial point and the transpilation; ``seed_simulator`` is
    passed to ``backend.run``. Returns the final energy estimate, the optimal parameters, the
    number of energy evaluations and, for small Hamiltonians, the exact ground energy.
    """
    terms = parse_hamiltonian(DEFAULT_HAMILTONIAN if hamiltonian is None else hamiltonian)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    num_qubits = len(terms[0][0])
    if num_qubits > backend.num_qubits:
        raise ValueError(
            f"the Hamiltonian acts on {num_qubits} qubits; the backend has {backend.num_qubits}"
        )

    state, theta = ansatz(num_qubits, reps)
    rng = np.random.default_rng(seed)
    if initial_point is None:
        x0 = rng.uniform(-math.pi, math.pi, len(theta))
    else:
        x0 = np.asarray(initial_point, dtype=float)
        if x0.shape != (len(theta),) or not np.all(np.isfinite(x0)):
            raise ValueError(f"initial_point must be {len(theta)} finite numbers")

    labels = [label for label, _ in terms]
    bases = group_terms(labels)
    seed_transpiler = None if seed is None else int(seed)
    circuits = transpile(
        [measurement_circuit(state, basis) for basis in bases],
        backend,
        seed_transpiler=seed_transpiler,
    )
    term_basis = [covering_basis(label, bases) if set(label) != {"I"} else -1 for label in labels]
    run_options: dict[str, Any] = {"shots": shots}
    if seed_simulator is not None:
        run_options["seed_simulator"] = seed_simulator

    def energy(values: np.ndarray) -> float:
        bound = [
            circuit.assign_parameters(dict(zip(theta, values, strict=True)), strict=False)
            for circuit in circuits
        ]
        result = backend.run(bound, **run_options).result()
        counts = [result.get_counts(index) for index in range(len(bound))]
        total = 0.0
        for (label, coeff), basis_index in zip(terms, term_basis, strict=True):
            total += coeff if basis_index < 0 else coeff * expectation(label, counts[basis_index])
        return total

    evaluations = 0

    def objective(values: np.ndarray) -> float:
        nonlocal evaluations
        value = energy(values)
        user_messenger.publish(
            {
                "iteration": evaluations,
                "energy": value,
                "parameters": [float(v) for v in values],
            }
        )
        evaluations += 1
        return value

    outcome = minimize(objective, x0, method=optimizer, options={"maxiter": maxiter})
    parameters = [float(v) for v in outcome.x]
    result: dict[str, Any] = {
        "energy": energy(outcome.x),
        "parameters": parameters,
        "iterations": evaluations,
        "optimizer": optimizer,
        "shots": shots,
    }
    if num_qubits <= MAX_EXACT_QUBITS:
        matrix = SparsePauliOp.from_list(terms).to_matrix()
        result["exact_energy"] = float(np.linalg.eigvalsh(matrix)[0])
    return result
