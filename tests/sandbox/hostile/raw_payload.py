"""Sends a result or an interim message the host must refuse on arrival.

A custom encoder returns any text it likes, so the program can send what ``RuntimeEncoder``
never writes: 200,000 levels of nesting, text that is not JSON, a document whose arrays
inflate to 1 GiB, a noise model of 40,000 errors. A lone surrogate needs no trick:
``json.dumps`` escapes it as ``\\ud800``.
"""

import base64
import json
import time
import zlib

MIB = 1 << 20


def _array_bomb(arrays=4, array_bytes=256 * MIB):
    """RuntimeEncoder's form of ``arrays`` float64 zero arrays of ``array_bytes`` each."""
    descr = {"descr": "<f8", "fortran_order": False, "shape": (array_bytes // 8,)}
    header = repr(descr).encode("latin1")
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy_header = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(npy_header)]
    zeros = bytes(MIB)
    for _ in range(array_bytes // MIB):
        parts.append(compressor.compress(zeros))
    parts.append(compressor.flush())
    value = {"__type__": "ndarray", "__value__": base64.b64encode(b"".join(parts)).decode()}
    return json.dumps({"arrays": [value] * arrays})


def _noise_model(errors=40_000):
    """A NoiseModel payload of ``errors`` bit-flip errors (Aer rebuilds it for a minute)."""
    error = {"type": "qerror", "operations": ["x"], "gate_qubits": [[0]],
             "probabilities": [0.99, 0.01],
             "instructions": [[{"name": "id", "qubits": [0]}], [{"name": "x", "qubits": [0]}]]}
    return json.dumps({"__type__": "NoiseModel", "__value__": {"errors": [error] * errors}})


def _text(kind):
    if kind == "noise_model":
        return _noise_model()
    if kind == "deep":
        return "[" * 200_000 + "]" * 200_000
    if kind == "not_json":
        return "this is not {JSON"
    if kind == "array_bomb":
        return _array_bomb()
    raise ValueError(kind)


class RawText(json.JSONEncoder):
    """An encoder that writes the text it is given as it is."""

    def encode(self, obj):
        return obj.text


class Raw:
    def __init__(self, text):
        self.text = text


def main(backend, user_messenger, kind, how="result", then="return"):
    if kind == "surrogate":
        if how == "publish":
            user_messenger.publish({"bad": "lone \ud800 surrogate"})
            return "published"
        return {"bad": "lone \ud800 surrogate"}
    text = _text(kind)
    if how == "publish":
        user_messenger.publish(Raw(text), encoder=RawText)
        while then == "loop":  # for the watchdog to end
            time.sleep(0.1)
        return "published"
    user_messenger.publish(Raw(text), encoder=RawText, final=True)
    return None
