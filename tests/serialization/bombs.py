"""Decode bombs written by hand in the wire format, and a clean measure of what decoding costs.

``vector_bomb`` is the 1.4 KB payload naming ParameterVectors of a million elements each (4 GiB
if built); ``array_bomb`` the 1.4 MB document that inflates to 1 GiB of float64 arrays. They
are built without ever holding what they declare. ``decode_peak`` decodes a text in a fresh
Python process and reports how far its peak RSS (``VmHWM``, reset first) rose above what was
resident before, so neither the imports nor the test process count.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import uuid
import zlib
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent.parent
MIB = 1 << 20


def expression_with_vector(name: str, length: int) -> dict[str, Any]:
    """A ``ParameterExpression`` wire value: ``name[0]`` of a vector of ``length`` elements.

    The historical record: ``!QQ`` (symbols, text size), the srepr text, then per symbol
    ``!ccQ`` (kind, value kind, value size) and the vector element record ``!HQ16sQ`` (name
    size, vector length, uuid, index) followed by the name.
    """
    text = f"Symbol('{name}[0]')".encode()
    raw_name = name.encode()
    element = struct.pack("!HQ16sQ", len(raw_name), length, uuid.uuid4().bytes, 0) + raw_name
    record = (
        struct.pack("!QQ", 1, len(text)) + text + struct.pack("!ccQ", b"v", b"v", 0) + element
    )
    return {"__type__": "ParameterExpression", "__value__": base64.b64encode(record).decode()}


def vector_bomb(vectors: int = 8, length: int = 1_000_000) -> str:
    """A list of expressions, each naming its own vector of ``length`` elements."""
    return json.dumps([expression_with_vector(f"v{i}", length) for i in range(vectors)])


def npy_zeros_wire(shape: tuple[int, ...], dtype: str = "<f8") -> dict[str, Any]:
    """An ``ndarray`` wire value of zeros, compressed a MiB at a time (never held whole)."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, dtype=dtype))
    header["shape"] = shape
    sink: list[bytes] = []

    class _Sink:
        def write(self, data: bytes) -> None:
            sink.append(bytes(data))

    np.lib.format.write_array_header_1_0(_Sink(), header)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(b"".join(sink))]
    remaining = int(np.prod(shape)) * np.dtype(dtype).itemsize
    zeros = bytes(MIB)
    while remaining:
        step = min(remaining, MIB)
        parts.append(compressor.compress(zeros[:step]))
        remaining -= step
    parts.append(compressor.flush())
    return {"__type__": "ndarray", "__value__": base64.b64encode(b"".join(parts)).decode()}


def array_bomb(arrays: int = 4, array_bytes: int = 256 * MIB) -> str:
    """``arrays`` float64 arrays of zeros of ``array_bytes`` each (1 GiB by default)."""
    value = npy_zeros_wire((array_bytes // 8,))
    return json.dumps({"interim": [value] * arrays})


_MEASURE = """
import json, sys
from engine.errors import DecodeError
from engine.serialization import RuntimeDecoder
import qiskit, qiskit_aer, scipy.sparse  # what decoding may import, loaded before measuring

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

text = open(sys.argv[1], encoding="utf-8").read()
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to what is resident now: the imports' peak is gone
before = status("VmRSS")
try:
    value = json.loads(text, cls=RuntimeDecoder)
    outcome = {"decoded": type(value).__name__}
except DecodeError as exc:
    outcome = {"error": type(exc).__name__, "message": str(exc),
               "limit": getattr(exc, "limit", None)}
outcome["peak_rise_bytes"] = status("VmHWM") - before
print(json.dumps(outcome))
"""


def decode_peak(text: str, tmp_path: Path) -> dict[str, Any]:
    """Decode ``text`` with ``RuntimeDecoder`` in a fresh process; its outcome and peak rise."""
    path = tmp_path / "payload.json"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True,
                          text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
