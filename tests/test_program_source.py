"""Every sample under ``program_source/`` runs locally and keeps the promises of its metadata.

Inputs travel as the service sends them (``RuntimeEncoder`` then ``RuntimeDecoder``); inputs,
interim messages and return values are checked against the sample's own JSON Schemas as the
engine checks them: after decoding, with ``engine.metadata``.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import sys
from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np
import pytest
from program_source_shim import (
    PROGRAM_SOURCE,
    SampleRun,
    load_inputs_text,
    load_metadata,
    load_program,
    round_trip,
    run_sample,
    sample_names,
    violations,
)
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator

from engine.metadata import DRAFT_2019_09, ProgramMetadata, validate_inputs
from engine.program import CollectingMessenger, ResultDecoder
from engine.scan import scan_source
from engine.serialization import RuntimeDecoder, RuntimeEncoder

SAMPLES = sample_names()
SCHEMA_KEYS = ("parameters", "return_values", "interim_results")


@pytest.fixture(scope="module")
def backend() -> AerSimulator:
    return AerSimulator()


@pytest.fixture(scope="module")
def sample_run(backend: AerSimulator) -> Callable[[str], SampleRun]:
    """Runs a sample once with its ``inputs.json`` and hands the same run to every test."""
    runs: dict[str, SampleRun] = {}

    def get(name: str) -> SampleRun:
        if name not in runs:
            runs[name] = run_sample(name, backend)
        return runs[name]

    return get


def test_the_expected_samples_exist() -> None:
    assert {"hello_world", "sample_program", "circuit_runner", "vqe", "qaoa"} <= set(SAMPLES)


def test_loading_a_sample_leaves_the_import_state_alone() -> None:
    def package_modules() -> dict[str, Any]:
        return {k: v for k, v in sys.modules.items() if k.split(".")[0] == "qiskit_ibm_runtime"}

    before = package_modules(), list(sys.path)
    program = load_program("sample_program")
    assert program.ResultDecoder is ResultDecoder  # the compat module re-exports the engine's
    assert (package_modules(), list(sys.path)) == before


# --- metadata ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_folder_is_complete(name: str) -> None:
    folder = PROGRAM_SOURCE / name
    assert (folder / f"{name}.json").is_file()
    assert (folder / "inputs.json").is_file()

    metadata = load_metadata(name)
    assert isinstance(metadata, ProgramMetadata)
    assert metadata.name == name.replace("_", "-")
    assert metadata.description.strip()
    assert metadata.max_execution_time > 0
    assert metadata.spec.backend_requirements.min_num_qubits >= 1
    for key in SCHEMA_KEYS:
        schema = getattr(metadata.spec, key)
        assert isinstance(schema, dict), key
        assert schema["$schema"] == DRAFT_2019_09, key


@pytest.mark.parametrize("name", SAMPLES)
def test_main_signature_matches_the_parameters_schema(name: str) -> None:
    """Every schema parameter is a keyword of ``main`` and every schema default is main's."""
    parameters = list(inspect.signature(load_program(name).main).parameters.values())
    assert [p.name for p in parameters[:2]] == ["backend", "user_messenger"]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    keywords = {p.name: p for p in parameters[2:] if p.kind is not inspect.Parameter.VAR_KEYWORD}

    schema = load_metadata(name).spec.parameters
    assert isinstance(schema, dict)
    properties = schema.get("properties", {})
    if not takes_any:
        assert set(properties) == set(keywords)
    for key, prop in properties.items():
        if "default" in prop:
            assert keywords[key].default == prop["default"], key
    for key in schema.get("required", []):
        assert takes_any or keywords[key].default is inspect.Parameter.empty, key


@pytest.mark.parametrize("name", SAMPLES)
def test_example_inputs_satisfy_the_parameters_schema(name: str) -> None:
    validate_inputs(load_metadata(name), json.loads(load_inputs_text(name), cls=RuntimeDecoder))


@pytest.mark.parametrize(
    ("name", "bad_inputs"),
    [
        ("hello_world", {"iterations": -1}),
        ("hello_world", {}),
        ("sample_program", {"num_qubits": 0}),
        ("sample_program", {"iterations": 3, "colour": "red"}),
        ("circuit_runner", {"shots": 10}),
        ("circuit_runner", {"circuits": "OPENQASM 2.0;"}),
        ("circuit_runner", {"circuits": []}),
        ("circuit_runner", {"circuits": [QuantumCircuit(1), {"not": "a circuit"}]}),
        ("vqe", {"hamiltonian": [["XQ", 1.0]]}),
        ("vqe", {"hamiltonian": [["XZ", "one"]]}),
        ("vqe", {"optimizer": "BFGS"}),
        ("qaoa", {"edges": [[0, -1]]}),
        ("qaoa", {"edges": [[0, 1, 2, 3]]}),
        ("qaoa", {"reps": 0}),
    ],
)
def test_parameters_schema_refuses_bad_inputs(name: str, bad_inputs: dict[str, Any]) -> None:
    assert violations(load_metadata(name).spec.parameters, bad_inputs) != []


# What a sample may import: a narrower list than the upload policy allows.
SAMPLE_IMPORTS = {
    "qiskit", "qiskit_aer", "numpy", "scipy", "math", "json", "random", "typing",
    "dataclasses", "collections", "itertools", "functools", "qiskit_ibm_runtime",
}  # fmt: skip


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_passes_the_upload_review(name: str) -> None:
    source = (PROGRAM_SOURCE / name / f"{name}.py").read_bytes()
    report = scan_source(source, f"{name}.py")
    assert report.accepted, report.summary()

    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= SAMPLE_IMPORTS


# --- every sample, run locally -------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_runs_locally_within_its_schemas(
    name: str, sample_run: Callable[[str], SampleRun]
) -> None:
    run = sample_run(name)
    spec = load_metadata(name).spec

    assert violations(spec.parameters, run.inputs) == []
    assert run.messenger.texts, "every sample publishes interim results"
    assert run.messenger.final_texts == []
    for index, message in enumerate(run.messenger.decoded()):
        assert violations(spec.interim_results, message) == [], f"interim result {index}"
    assert violations(spec.return_values, run.decoded_result) == []


# Short variants of the example inputs, for the runs that are repeated.
SHORT_RUNS = {"sample_program": {"iterations": 2}, "vqe": {"maxiter": 8}, "qaoa": {"maxiter": 8}}


def short_inputs(name: str, **changes: Any) -> str:
    inputs = json.loads(load_inputs_text(name), cls=RuntimeDecoder)
    return json.dumps(inputs | SHORT_RUNS[name] | changes, cls=RuntimeEncoder)


@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_the_same_seeds_give_the_same_run(name: str, backend: AerSimulator) -> None:
    first = run_sample(name, backend, short_inputs(name))
    again = run_sample(name, backend, short_inputs(name))
    assert again.messenger.texts == first.messenger.texts
    assert again.result_text == first.result_text

    other = run_sample(name, backend, short_inputs(name, seed=first.inputs["seed"] + 1))
    assert other.messenger.texts != first.messenger.texts


# --- hello_world ---------------------------------------------------------------------------


def test_hello_world_publishes_counts_each_iteration(
    sample_run: Callable[[str], SampleRun],
) -> None:
    run = sample_run("hello_world")
    assert run.result == "Hello, World!"
    messages = run.messenger.decoded()
    assert [m["iteration"] for m in messages] == list(range(run.inputs["iterations"]))
    for message in messages:
        assert sum(message["counts"].values()) == 1024
        assert all(len(bits) == 5 for bits in message["counts"])


# --- sample_program ------------------------------------------------------------------------


def test_sample_program_decoder_rebuilds_the_custom_class(
    sample_run: Callable[[str], SampleRun],
) -> None:
    run = sample_run("sample_program")
    summary_class = run.program.CircuitSummary
    decoder = run.program.SampleResultDecoder
    spec = load_metadata("sample_program").spec
    assert isinstance(spec.interim_results, dict)
    content_schema = spec.interim_results["contentSchema"]

    summaries = []
    for iteration, text in enumerate(run.messenger.texts):
        summary = decoder.decode(text)
        assert isinstance(summary, summary_class)
        assert summary.iteration == iteration
        assert summary.shots == run.inputs["shots"] == sum(summary.counts.values())
        assert summary.counts[summary.most_frequent] == max(summary.counts.values())
        # The JSON text a user receives follows the schema's contentSchema.
        assert violations(content_schema, json.loads(json.loads(text, cls=RuntimeDecoder))) == []
        summaries.append(summary)
    assert len(summaries) == run.inputs["iterations"]

    assert issubclass(decoder, ResultDecoder)
    final = decoder.decode(run.result_text)
    assert isinstance(final, summary_class)
    assert final == max(summaries, key=lambda s: s.peak_probability)


def test_sample_program_decoder_accepts_already_decoded_messages() -> None:
    program = load_program("sample_program")
    messenger = CollectingMessenger()
    summary = program.CircuitSummary(0, 11, 10, {"01": 7, "10": 3})
    messenger.publish(summary)
    (message,) = messenger.messages
    assert program.SampleResultDecoder.decode(message) == summary
    assert program.SampleResultDecoder.decode(summary) is summary


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"iteration": 0, "circuit_seed": 1, "shots": 4}),
        json.dumps({"iteration": 0, "circuit_seed": 1, "shots": 4, "counts": {"0": -4}}),
        json.dumps({"iteration": "0", "circuit_seed": 1, "shots": 4, "counts": {"0": 4}}),
        json.dumps([1, 2, 3]),
    ],
)
def test_sample_program_decoder_refuses_malformed_summaries(payload: str) -> None:
    program = load_program("sample_program")
    wire = json.dumps({"__type__": "to_json", "__value__": payload})
    with pytest.raises(ValueError, match="CircuitSummary"):
        program.SampleResultDecoder.decode(wire)


# --- circuit_runner ------------------------------------------------------------------------


def test_circuit_runner_counts_match_a_direct_run(
    sample_run: Callable[[str], SampleRun], backend: AerSimulator
) -> None:
    run = sample_run("circuit_runner")
    circuits = run.inputs["circuits"]
    circuits = [circuits] if isinstance(circuits, QuantumCircuit) else circuits
    assert all(isinstance(c, QuantumCircuit) for c in circuits)

    direct = backend.run(
        transpile(circuits, backend, seed_transpiler=run.inputs.get("seed_transpiler")),
        shots=run.inputs["shots"],
        seed_simulator=run.inputs["seed_simulator"],
    ).result()
    assert run.result == [direct.get_counts(i) for i in range(len(circuits))]

    # The example circuits measure qubit i into clbit i, so outcomes read like basis states.
    for circuit, counts in zip(circuits, run.result, strict=True):
        assert sum(counts.values()) == run.inputs["shots"]
        possible = Statevector(circuit.remove_final_measurements(inplace=False))
        probabilities = possible.probabilities_dict()
        assert all(probabilities.get(bits, 0) > 1e-9 for bits in counts), circuit.name

    (summary,) = run.messenger.decoded()
    assert [c["name"] for c in summary["circuits"]] == [c.name for c in circuits]


def test_circuit_runner_takes_a_single_circuit_untranspiled(backend: AerSimulator) -> None:
    circuit = QuantumCircuit(1, 1, name="flip")
    circuit.x(0)
    circuit.measure(0, 0)
    run = run_sample(
        "circuit_runner",
        backend,
        json.dumps(
            {"circuits": circuit, "shots": 50, "skip_transpilation": True}, cls=RuntimeEncoder
        ),
    )
    assert violations(load_metadata("circuit_runner").spec.parameters, run.inputs) == []
    assert run.result == [{"1": 50}]


@pytest.mark.parametrize(
    ("circuits", "error", "match"),
    [
        (QuantumCircuit(2), ValueError, r"circuits\[0\].*no measurements"),
        ([], TypeError, "non-empty list"),
        ("not a circuit", TypeError, "QuantumCircuit"),
    ],
)
def test_circuit_runner_refuses_unusable_circuits(
    circuits: Any, error: type[Exception], match: str, backend: AerSimulator
) -> None:
    program = load_program("circuit_runner")
    with pytest.raises(error, match=match):
        program.main(backend, CollectingMessenger(), circuits=circuits)


# --- vqe -----------------------------------------------------------------------------------

PAULI_MATRICES = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]]),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1, -1]),
}


def exact_ground_energy(terms: list[list[Any]]) -> float:
    """The lowest eigenvalue of the Pauli sum, built with Kronecker products."""
    matrix = sum(
        coeff * reduce(np.kron, [PAULI_MATRICES[p] for p in label]) for label, coeff in terms
    )
    return float(np.linalg.eigvalsh(matrix)[0])


def test_vqe_reaches_the_exact_ground_energy(sample_run: Callable[[str], SampleRun]) -> None:
    run = sample_run("vqe")
    hamiltonian = run.inputs.get("hamiltonian", run.program.DEFAULT_HAMILTONIAN)
    exact = exact_ground_energy(hamiltonian)

    assert run.result["exact_energy"] == pytest.approx(exact, abs=1e-9)
    assert run.result["energy"] == pytest.approx(exact, abs=0.05)
    interim = run.messenger.decoded()
    assert len(interim) == run.result["iterations"]
    assert [m["iteration"] for m in interim] == list(range(len(interim)))
    # The optimization made progress: far better than where it started.
    assert interim[0]["energy"] - run.result["energy"] > 0.1
    assert len(run.result["parameters"]) == len(interim[0]["parameters"])


def test_vqe_energy_estimate_matches_the_statevector_expectation(backend: AerSimulator) -> None:
    program = load_program("vqe")
    terms = [("XYZ", 0.7), ("ZZI", -0.4), ("IYY", 0.25), ("XII", 0.5), ("III", 1.5)]
    state, theta = program.ansatz(3, reps=1)
    values = np.linspace(-2.0, 2.5, len(theta))
    bound = state.assign_parameters(dict(zip(theta, values, strict=True)))

    bases = program.group_terms([label for label, _ in terms])
    circuits = [program.measurement_circuit(bound, basis) for basis in bases]
    result = backend.run(transpile(circuits, backend), shots=40_000, seed_simulator=3).result()
    estimate = 0.0
    for label, coeff in terms:
        if set(label) == {"I"}:
            estimate += coeff
            continue
        counts = result.get_counts(program.covering_basis(label, bases))
        estimate += coeff * program.expectation(label, counts)

    exact = Statevector(bound).expectation_value(SparsePauliOp.from_list(terms)).real
    assert len(bases) < len(terms) - 1  # commuting terms shared a circuit
    assert estimate == pytest.approx(exact, abs=0.03)


@pytest.mark.parametrize(
    ("hamiltonian", "match"),
    [
        ([["XQ", 1.0]], r"hamiltonian\[0\]\[0\]"),
        ([["XZ", 1.0], ["X", 2.0]], r"hamiltonian\[1\]\[0\].*length"),
        ([["XZ", "one"]], r"hamiltonian\[0\]\[1\]"),
        ([["XZ", float("nan")]], r"hamiltonian\[0\]\[1\].*finite"),
        ([], "non-empty"),
    ],
)
def test_vqe_refuses_malformed_hamiltonians(
    hamiltonian: Any, match: str, backend: AerSimulator
) -> None:
    program = load_program("vqe")
    with pytest.raises(ValueError, match=match):
        program.main(backend, CollectingMessenger(), hamiltonian=hamiltonian)


# --- qaoa ----------------------------------------------------------------------------------


def brute_force_max_cut(edges: list[list[Any]]) -> float:
    """The maximum cut weight over every assignment of the nodes to two sides."""
    num_nodes = 1 + max(max(edge[:2]) for edge in edges)
    best = 0.0
    for sides in itertools.product((0, 1), repeat=num_nodes):
        cut = sum(
            (edge[2] if len(edge) == 3 else 1.0)
            for edge in edges
            if sides[edge[0]] != sides[edge[1]]
        )
        best = max(best, cut)
    return best


def check_cut(result: dict[str, Any], edges: list[list[Any]]) -> None:
    """The returned cut is consistent with itself and is a true maximum cut."""
    bits = result["cut"]
    assert result["partition"] == [int(bit) for bit in reversed(bits)]
    recomputed = sum(
        (edge[2] if len(edge) == 3 else 1.0)
        for edge in edges
        if result["partition"][edge[0]] != result["partition"][edge[1]]
    )
    assert result["cut_value"] == pytest.approx(recomputed)
    assert result["cut_value"] == pytest.approx(brute_force_max_cut(edges))


def test_qaoa_finds_the_maximum_cut(sample_run: Callable[[str], SampleRun]) -> None:
    run = sample_run("qaoa")
    edges = run.inputs.get("edges", run.program.DEFAULT_EDGES)
    check_cut(run.result, edges)

    total_weight = sum((edge[2] if len(edge) == 3 else 1.0) for edge in edges)
    # A random assignment cuts half the weight on average; the optimized state does clearly better.
    assert run.result["energy"] < -0.6 * total_weight
    interim = run.messenger.decoded()
    assert len(interim) == run.result["iterations"]
    assert len(run.result["parameters"]) == 2 * run.result["reps"]


def test_qaoa_on_a_weighted_graph(backend: AerSimulator) -> None:
    edges = [[0, 1, 2.0], [1, 2, 0.5], [2, 3, 3.0], [3, 0, 1.0], [0, 2, 1.5]]
    inputs = {"edges": edges, "reps": 1, "maxiter": 30, "seed": 4, "seed_simulator": 4}
    run = run_sample("qaoa", backend, json.dumps(inputs))
    check_cut(run.result, edges)


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([[1, 1]], r"edges\[0\] joins node 1 to itself"),
        ([[0, 1], [0, -2]], r"edges\[1\].*non-negative"),
        ([[0, 1, "heavy"]], r"edges\[0\].*weight"),
        ([[0]], r"edges\[0\] must be"),
    ],
)
def test_qaoa_refuses_malformed_graphs(edges: Any, match: str, backend: AerSimulator) -> None:
    program = load_program("qaoa")
    with pytest.raises(ValueError, match=match):
        program.main(backend, CollectingMessenger(), edges=edges)


def test_inputs_survive_the_service_round_trip() -> None:
    """What ``inputs.json`` holds decodes, and comes back equal after another round trip."""
    for name in SAMPLES:
        decoded = json.loads(load_inputs_text(name), cls=RuntimeDecoder)
        _, again = round_trip(decoded)
        assert again == decoded, name
