"""Admission by method: memory and time estimates, nested definitions (pure logic)."""

import pytest
from backend_circuits import bell, brickwork, qpy_b64
from qiskit import QuantumCircuit

from engine.backends import estimate_memory, load_backend_policy
from engine.backends.admission import check_decoded, check_size, plan_call
from engine.errors import BackendRejected

LIMITS = load_backend_policy().admission


@pytest.mark.parametrize(
    "method, state",
    [
        ("statevector", lambda n: 16 * 2**n),
        ("automatic", lambda n: 16 * 2**n),
        ("density_matrix", lambda n: 16 * 4**n),
        ("unitary", lambda n: 16 * 4**n),
        ("superop", lambda n: 16 * 16**n),  # a 4^n-by-4^n superoperator
    ],
)
def test_memory_is_estimated_by_method(method, state):
    for n in (2, 5, 8):
        estimate = estimate_memory(method, n, 1, False, 256)
        assert state(n) <= estimate <= state(n) + 64


def test_unitary_and_superop_are_not_estimated_as_a_statevector():
    tight = LIMITS.model_copy(update={
        "max_memory_bytes": 2**30, "max_qubits": {"automatic": 40, "unitary": 40, "superop": 40},
    })
    check_size(tight, "automatic", 20, 1, False)  # 16 MiB as a statevector
    for method, limit in (("unitary", "max_memory_bytes"), ("superop", "max_memory_bytes")):
        with pytest.raises(BackendRejected) as caught:
            check_size(tight, method, 14 if method == "unitary" else 7, 1, False)
        assert caught.value.limit == limit


def test_a_wide_product_state_circuit_is_refused_by_its_estimated_time():
    # The red team's 40 qubits at depth 16: a few MB of state, minutes of simulation.
    with pytest.raises(BackendRejected) as caught:
        check_decoded(LIMITS, "matrix_product_state", [brickwork(40, 16)], 1000, {})
    assert caught.value.limit == "max_estimated_seconds"
    assert "max_estimated_seconds" in str(caught.value)


def test_a_wide_but_shallow_product_state_circuit_is_admitted():
    check_decoded(LIMITS, "matrix_product_state", [bell(60)], 1000, {})


def test_a_heavy_statevector_call_is_refused_by_its_estimated_time():
    check_decoded(LIMITS, "statevector", [brickwork(20, 4)], 1000, {})
    with pytest.raises(BackendRejected) as caught:
        check_decoded(LIMITS, "statevector", [brickwork(24, 20)], 1000, {})
    assert caught.value.limit == "max_estimated_seconds"


def test_per_shot_simulation_multiplies_the_estimate_by_the_shots():
    circuit = brickwork(16, 2)
    check_decoded(LIMITS, "statevector", [circuit], 100_000, {})  # sampled once
    circuit.h(0)  # an operation after the measurements: every shot is simulated
    with pytest.raises(BackendRejected) as caught:
        check_decoded(LIMITS, "statevector", [circuit], 100_000, {})
    assert caught.value.limit == "max_estimated_seconds"


def test_a_nested_definition_wider_than_the_method_allows_is_refused():
    inner = QuantumCircuit(30)
    inner.h(0)
    outer = QuantumCircuit(2)
    wrapper = QuantumCircuit(2)
    wrapper.h(0)
    wide = wrapper.to_gate()
    wide._definition = inner  # a forged definition, as a hostile QPY payload can carry
    outer.append(wide, [0, 1])
    with pytest.raises(BackendRejected) as caught:
        check_decoded(LIMITS, "automatic", [outer], 10, {})
    assert caught.value.limit == "max_qubits.automatic"
    assert "definition" in str(caught.value)


def test_the_host_refuses_by_declared_qubits_and_unknown_methods_before_decoding():
    with pytest.raises(BackendRejected) as caught:
        plan_call(LIMITS, ["shots", "method"], "aer_simulator", "automatic",
                  qpy_b64(QuantumCircuit(16384)), {"shots": 1})
    assert caught.value.limit == "max_qubits.automatic"
    with pytest.raises(BackendRejected) as caught:
        plan_call(LIMITS, ["shots", "method"], "aer_simulator", "automatic",
                  qpy_b64(bell()), {"method": "tensor_network"})
    assert caught.value.limit == "max_qubits"
    plan = plan_call(LIMITS, ["shots", "method"], "aer_simulator", "automatic",
                     qpy_b64(bell(3)), {"shots": 5})
    assert (plan.method, plan.shots, plan.declared_qubits) == ("automatic", 5, [3])
