"""Record golden vectors with an original client's RuntimeEncoder.

Run with the interpreter of an environment that has the original client installed (not the
engine's): qiskit-ibm-runtime (``qiskit_ibm_runtime.RuntimeEncoder``) or the older
qiskit-ibmq-provider (``qiskit.providers.ibmq.runtime.utils.RuntimeEncoder``). It writes
``<distribution>-<version>.json`` beside itself: the producer's versions and, per case, the
exact text the original encoder wrote. tests/test_serialization.py rebuilds the same values
and checks that RuntimeDecoder reads every vector back to them.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import uuid
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import HGate, RZZGate
from qiskit.quantum_info import (
    DensityMatrix,
    Kraus,
    Operator,
    Pauli,
    PauliList,
    SparsePauliOp,
    Statevector,
)
from qiskit.result import Result

try:
    from qiskit_ibm_runtime import RuntimeEncoder

    PRODUCER = "qiskit-ibm-runtime"
except ImportError:
    from qiskit.providers.ibmq.runtime.utils import RuntimeEncoder

    PRODUCER = "qiskit-ibmq-provider"

THETA_UUID = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")


def _parameter(name: str, fixed: uuid.UUID) -> Parameter:
    try:
        return Parameter(name, uuid=fixed)
    except TypeError:  # older qiskit: no uuid argument
        parameter = Parameter(name)
        parameter._uuid = fixed
        return parameter


class Custom:
    """An object that serializes itself (the original's "to_json" type)."""

    def to_json(self) -> str:
        return json.dumps({"kind": "custom", "values": [1, 2, 3]})


def result_value() -> Result:
    return Result.from_dict(
        {
            "backend_name": "golden_backend",
            "backend_version": "1.0.0",
            "qobj_id": "q-1",
            "job_id": "job-1",
            "success": True,
            "results": [
                {
                    "shots": 100,
                    "success": True,
                    "data": {"counts": {"0x0": 60, "0x3": 40}},
                    "header": {"name": "bell"},
                },
                {
                    "shots": 100,
                    "success": True,
                    "data": {"counts": {"0x1": 100}},
                    "header": {"name": "flip"},
                },
            ],
        }
    )


def cases() -> dict[str, object]:
    theta = _parameter("θ", THETA_UUID)
    bell = QuantumCircuit(2, 2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.rz(theta, 1)
    bell.measure([0, 1], [0, 1])
    bell.metadata = {"purpose": "golden"}
    out: dict[str, object] = {
        "complex": 1.5 - 2j,
        "ndarray_float": np.arange(12, dtype=float).reshape(3, 4) / 7,
        "ndarray_complex": np.array([[1 + 2j, 3], [0, -1j]]),
        "ndarray_int32_fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "ndarray_bool": np.array([True, False, True]),
        "ndarray_object": np.array([1, "a", None], dtype=object),
        "set": {1, 2, 3},
        "datetime": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC),
        "date": datetime.date(2023, 1, 2),
        "circuit": bell,
        "instruction": RZZGate(0.25),
        "instruction_h": HGate(),
        "result": result_value(),
        "settings_sparse_pauli_op": SparsePauliOp(["XI", "ZZ"], [1.0, 2j]),
        "settings_pauli": Pauli("-iXYZ"),
        "settings_pauli_list": PauliList(["XX", "YZ"]),
        "settings_operator": Operator(np.array([[0, 1], [1, 0]])),
        "settings_statevector": Statevector([1, 0, 0, 1j]) / np.sqrt(2),
        "settings_density_matrix": DensityMatrix.from_label("01"),
        "settings_kraus": Kraus(
            [np.eye(2) * np.sqrt(0.5), np.array([[0, 1], [1, 0]]) * np.sqrt(0.5)]
        ),
        "spmatrix_csr": scipy.sparse.csr_matrix(np.array([[0, 2.5, 0], [1, 0, 0]])),
        "spmatrix_coo": scipy.sparse.coo_matrix(np.array([[0, 0], [3, 0]])),
        "spmatrix_dia": scipy.sparse.dia_matrix(np.eye(3)),
        "to_json": Custom(),
        "callable": {"f": len},
        "nan": [float("nan"), float("inf")],
    }
    if PRODUCER == "qiskit-ibm-runtime":
        from qiskit.transpiler import CouplingMap
        from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

        noise = NoiseModel()
        noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["x", "sx"])
        noise.add_quantum_error(depolarizing_error(0.1, 2), ["cx"], [0, 1])
        noise.add_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]), [0])
        out["parameter"] = theta
        out["parameter_view"] = bell.parameters
        out["noise_model"] = noise
        out["numpy_int64"] = np.int64(7)
        out["coupling_map"] = CouplingMap([[0, 1], [1, 2]])
    else:
        phi = _parameter("φ", uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"))
        out["parameter_as_expression"] = theta
        out["parameter_expression"] = 2 * theta + phi * theta - 0.5 * phi + 1.5j
    return out


def main() -> None:
    distribution = PRODUCER
    versions = {
        name: importlib.metadata.version(name)
        for name in (distribution, "qiskit", "qiskit-terra", "qiskit-aer", "numpy", "scipy")
        if _installed(name)
    }
    encoded = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, value in cases().items():
            encoded[name] = json.dumps(value, cls=RuntimeEncoder)
    target = Path(__file__).with_name(f"{distribution}-{versions[distribution]}.json")
    target.write_text(
        json.dumps({"producer": versions, "cases": encoded}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {len(encoded)} vectors to {target}")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    main()
