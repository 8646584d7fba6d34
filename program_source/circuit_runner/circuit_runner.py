"""Runs circuits on the backend and returns their counts.

The circuits arrive as ``QuantumCircuit`` objects (``RuntimeEncoder`` sends them as QPY). They
are transpiled for the backend unless ``skip_transpilation`` is set, a summary of what will run
is published, and the result is one counts dictionary per circuit, in input order.
"""

from typing import Any

from qiskit import QuantumCircuit, transpile


def _as_circuit_list(circuits: Any) -> list[QuantumCircuit]:
    """Accept one circuit or a list of them; refuse anything else with the offending index."""
    if isinstance(circuits, QuantumCircuit):
        circuits = [circuits]
    if not isinstance(circuits, list) or not circuits:
        raise TypeError("circuits must be a QuantumCircuit or a non-empty list of them")
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(
                f"circuits[{index}] is a {type(circuit).__name__}, not a QuantumCircuit"
            )
        if not any(item.operation.name == "measure" for item in circuit.data):
            raise ValueError(f"circuits[{index}] ({circuit.name!r}) has no measurements")
    return circuits


def main(
    backend,
    user_messenger,
    circuits: Any,
    shots: int = 1024,
    seed_simulator: int | None = None,
    skip_transpilation: bool = False,
    optimization_level: int | None = None,
    seed_transpiler: int | None = None,
) -> list[dict[str, int]]:
    """Run ``circuits`` with ``shots`` each and return their counts, one dictionary per circuit."""
    circuits = _as_circuit_list(circuits)
    if not skip_transpilation:
        circuits = transpile(
            circuits,
            backend,
            optimization_level=optimization_level,
            seed_transpiler=seed_transpiler,
        )
    user_messenger.publish(
        {
            "circuits": [
                {
                    "name": circuit.name,
                    "num_qubits": circuit.num_qubits,
                    "depth": circuit.depth(),
                    "size": circuit.size(),
                }
                for circuit in circuits
            ]
        }
    )

    run_options: dict[str, Any] = {"shots": shots}
    if seed_simulator is not None:
        run_options["seed_simulator"] = seed_simulator
    result = backend.run(circuits, **run_options).result()
    return [dict(result.get_counts(index)) for index in range(len(circuits))]
