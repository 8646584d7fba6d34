"""Circuits and instructions as QPY, with the QPY headers checked before ``qpy.load`` runs.

``qpy.load`` allocates what a header declares: a 200-byte payload claiming 30 million qubits
exhausts memory and aborts the process from inside Rust. So the file header and every circuit
header are read here first and checked against the policy (exactly one circuit, bounded qubits
and clbits, counts no larger than the payload could hold). Circuits nested inside instructions
(control-flow bodies, custom gate definitions) are reached only by QPY's own reader; their size
is bounded by the decompressed-size limit, not by these header checks.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Any

from qiskit import qpy
from qiskit.circuit import ClassicalRegister, Instruction, QuantumCircuit, QuantumRegister

from engine.errors import DecodeError
from engine.serialization.policy import SerializationPolicy

_FILE_HEADER = "!6sBBBBQ"  # preface, qpy version, qiskit major/minor/patch, program count
_FILE_HEADER_V10_SIZE = struct.calcsize(_FILE_HEADER) + 1  # + symbolic encoding
_CIRCUIT_TYPE_KEY = b"q"
# Circuit headers by QPY version: (first version, struct format).
_CIRCUIT_HEADERS = (
    (
        12,
        "!H1cHIIQIQI",
    ),  # name, phase type, phase size, qubits, clbits, metadata, regs, insts, vars
    (2, "!H1cHIIQIQ"),
    (1, "!HdIIQIQ"),  # name, phase, qubits, clbits, metadata, registers, instructions
)


def _newest_qpy() -> int:
    return int(qpy.QPY_VERSION)


def write_circuit(circuit: QuantumCircuit, policy: SerializationPolicy, encoder: Any) -> bytes:
    """QPY bytes of one circuit; metadata is written with ``encoder`` as the original does."""
    version = min(policy.wire.qpy_version, _newest_qpy())
    with io.BytesIO() as buffer:
        qpy.dump(circuit, buffer, metadata_serializer=encoder, version=version)
        return buffer.getvalue()


def instruction_circuit(instruction: Instruction) -> QuantumCircuit:
    """The one-instruction circuit the original client writes for a standalone instruction."""
    qubits = QuantumRegister(instruction.num_qubits)
    circuit = QuantumCircuit(qubits)
    clbits: list[Any] = []
    if instruction.num_clbits:
        creg = ClassicalRegister(instruction.num_clbits)
        circuit.add_register(creg)
        clbits = list(creg)
    circuit.append(instruction, list(qubits), clbits)
    return circuit


def check_qpy(data: bytes | bytearray, policy: SerializationPolicy, type_name: str) -> int:
    """Refuse a QPY payload whose headers break the policy, before anything is allocated;
    return the qubits its circuit header declares."""
    limits = policy.limits

    def bad(rule: str) -> DecodeError:
        return DecodeError(f"{type_name}: QPY {rule}")

    size = len(data)
    if size < struct.calcsize(_FILE_HEADER):
        raise bad("payload is shorter than its file header")
    preface, version, _major, _minor, _patch, programs = struct.unpack_from(_FILE_HEADER, data)
    if preface != b"QISKIT":
        raise bad("payload does not start with the QPY preface")
    if version > _newest_qpy():
        raise bad(f"version {version} is newer than this qiskit reads ({_newest_qpy()})")
    if programs != 1:
        raise bad(f"payload holds {programs} programs; one circuit per value is accepted")
    offset = _FILE_HEADER_V10_SIZE if version >= 10 else struct.calcsize(_FILE_HEADER)
    if version >= 5:
        if data[offset : offset + 1] != _CIRCUIT_TYPE_KEY:
            raise bad("payload does not hold a circuit")
        offset += 1
    if version >= 16:
        if size < offset + 8:
            raise bad("program table is truncated")
        (offset,) = struct.unpack_from("!Q", data, offset)
    header_format = next(fmt for first, fmt in _CIRCUIT_HEADERS if version >= first)
    if offset + struct.calcsize(header_format) > size:
        raise bad("circuit header is truncated")
    fields = struct.unpack_from(header_format, data, offset)
    if version >= 2:
        name_size, _ptype, phase_size, qubits, clbits, metadata, registers, instructions = fields[
            :8
        ]
        extra = fields[8] if version >= 12 else 0
    else:
        name_size, _phase, qubits, clbits, metadata, registers, instructions = fields
        phase_size, extra = 0, 0
    if qubits > limits.max_circuit_qubits:
        raise bad(
            f"circuit declares {qubits} qubits (max_circuit_qubits {limits.max_circuit_qubits})"
        )
    if clbits > limits.max_circuit_clbits:
        raise bad(
            f"circuit declares {clbits} clbits (max_circuit_clbits {limits.max_circuit_clbits})"
        )
    for label, count in (
        ("name bytes", name_size),
        ("global phase bytes", phase_size),
        ("metadata bytes", metadata),
        ("registers", registers),
        ("instructions", instructions),
        ("variables", extra),
    ):
        if count > size:
            raise bad(f"circuit declares {count} {label}, more than its {size}-byte payload holds")
    return int(qubits)


def read_circuit(
    data: bytes | bytearray, policy: SerializationPolicy, type_name: str
) -> QuantumCircuit:
    """The one circuit in a checked QPY payload."""
    check_qpy(data, policy, type_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            circuits = qpy.load(io.BytesIO(bytes(data)))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # qiskit's Rust reader panics with a BaseException subclass
        summary = (str(exc).strip().splitlines() or [""])[0][:200]
        raise DecodeError(
            f"{type_name}: QPY payload is invalid ({type(exc).__name__}: {summary})"
        ) from None
    if len(circuits) != 1 or not isinstance(circuits[0], QuantumCircuit):
        raise DecodeError(f"{type_name}: QPY payload does not hold exactly one circuit")
    return circuits[0]


def read_instruction(data: bytes | bytearray, policy: SerializationPolicy) -> Instruction:
    """The instruction a one-instruction QPY circuit carries."""
    circuit = read_circuit(data, policy, "Instruction")
    if len(circuit.data) != 1:
        raise DecodeError(
            f"Instruction: QPY circuit holds {len(circuit.data)} instructions, expected 1"
        )
    return circuit.data[0].operation
