"""Host backends: the registry, descriptions, requirements and admission limits."""

import base64
import json

import pytest
from backend_circuits import bell as _bell
from backend_circuits import qpy_b64 as _qpy

from engine.backends import BackendRegistry, JobUsage, load_backend_policy
from engine.errors import BackendError, BackendRejected
from engine.metadata import BackendRequirements
from engine.serialization import RuntimeDecoder


@pytest.fixture(scope="module")
def registry():
    registry = BackendRegistry()
    yield registry
    registry.close()


def test_names_aliases_and_fake_devices(registry):
    assert registry.resolve(None) == "aer_simulator"
    assert registry.resolve("ibmq_qasm_simulator") == "aer_simulator"
    assert registry.resolve("fake_7q") == "fake_7q"
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        registry.resolve("nope")
    with pytest.raises(BackendError):
        registry.resolve("fake_100000q")


def test_description_carries_the_target(registry):
    aer = registry.describe("aer_simulator")
    assert aer.operations["cx"] is None and "measure" in aer.operations
    fake = registry.describe("fake_5q")
    assert fake.num_qubits == 5
    assert fake.coupling_map and all(len(edge) == 2 for edge in fake.coupling_map)
    assert fake.operations["cx"] and all(len(q) == 2 for q in fake.operations["cx"])


def test_requirements(registry):
    registry.check_requirements("fake_5q", BackendRequirements(min_num_qubits=5))
    with pytest.raises(BackendError, match="at least 6 qubits"):
        registry.check_requirements("fake_5q", BackendRequirements(min_num_qubits=6))
    with pytest.raises(BackendError, match="runs only on"):
        registry.check_requirements(
            "aer_simulator", BackendRequirements(backend_names=["fake_5q"])
        )


def test_an_admitted_call_runs(registry):
    usage = JobUsage()
    future = registry.submit(
        "aer_simulator", _qpy(_bell()), {"shots": 100, "seed_simulator": 7}, usage
    )
    result = json.loads(future.result(timeout=60), cls=RuntimeDecoder)
    counts = result.get_counts()
    assert sum(counts.values()) == 100 and set(counts) <= {"00", "11"}
    assert usage.calls == 1 and usage.shots == 100


@pytest.mark.parametrize(
    "circuits, options, limit",
    [
        (lambda: [_bell(40)], {"shots": 10**9}, "max_shots"),
        (lambda: [_bell(40)], {"shots": 10}, "max_qubits.automatic"),
        (
            lambda: [_bell(14)],
            {"shots": 10, "method": "density_matrix"},
            "max_qubits.density_matrix",
        ),
        (lambda: [_bell(2)] * 301, {"shots": 1}, "max_circuits_per_call"),
        (lambda: [_bell(2)], {"shots": 1, "executable": "/bin/sh"}, "allowed_run_options"),
        (lambda: [_bell(2)], {"shots": -1}, "shots"),
        (lambda: [_bell(2)], {"shots": "many"}, "shots"),
    ],
)
def test_admission_refuses_with_the_limit_named(registry, circuits, options, limit):
    usage = JobUsage()
    with pytest.raises(BackendRejected) as caught:
        registry.submit("aer_simulator", _qpy(*circuits()), options, usage)
    assert caught.value.limit == limit
    assert limit.split(".")[0] in str(caught.value)
    assert usage.calls == 0


def test_per_job_limits_accumulate(registry):
    policy = load_backend_policy()
    tight = policy.model_copy(
        update={"admission": policy.admission.model_copy(update={"max_calls_per_job": 2})}
    )
    limited = BackendRegistry(tight)
    try:
        usage = JobUsage()
        for _ in range(2):
            limited.admit("aer_simulator", _qpy(_bell()), {"shots": 1}, usage)
        with pytest.raises(BackendRejected) as caught:
            limited.admit("aer_simulator", _qpy(_bell()), {"shots": 1}, usage)
        assert caught.value.limit == "max_calls_per_job"
    finally:
        limited.close()


def test_garbage_circuits_are_refused(registry):
    garbage = base64.b64encode(b"QISKIT garbage").decode()
    with pytest.raises(BackendRejected, match="QPY"):
        registry.admit("aer_simulator", [garbage], {}, JobUsage())
    with pytest.raises(BackendRejected, match="base64"):
        registry.admit("aer_simulator", ["!!!"], {}, JobUsage())


def test_a_qpy_header_claiming_millions_of_qubits_is_refused_unread(registry):
    (payload,) = _qpy(_bell(2))
    raw = bytearray(base64.b64decode(payload))
    # Overwrite the circuit header's qubit count the way a hostile sandbox would.
    from engine.serialization import default_policy
    from engine.serialization.circuits import check_qpy

    check_qpy(raw, default_policy(), "probe")  # well-formed as written
    index = raw.find((2).to_bytes(4, "big"), 12)
    raw[index : index + 4] = (30_000_000).to_bytes(4, "big")
    with pytest.raises(BackendRejected) as caught:
        registry.admit("aer_simulator", [base64.b64encode(bytes(raw)).decode()], {}, JobUsage())
    assert caught.value.limit == "qpy"
