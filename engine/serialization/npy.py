"""NumPy arrays as ``.npy`` bytes, written with ``np.save``'s format and read without pickle.

Reading parses the header with NumPy's own header reader (a literal parser, no eval), refuses
every dtype that holds Python objects, checks that the data is exactly as long as the header
says, and then views the bytes in place instead of copying them.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.lib import format as npy_format

from engine.errors import DecodeError

_MAGIC = b"\x93NUMPY"
# NumPy's own default cap on the header (np.load's max_header_size).
_MAX_HEADER = 10000


class _ChunkSink:
    """A write-only file object collecting what ``np.lib.format.write_array`` writes."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []

    def write(self, data: bytes | memoryview) -> int:
        self.chunks.append(data)
        return len(data)


def npy_chunks(array: np.ndarray) -> Iterator[bytes | memoryview | np.ndarray]:
    """The bytes ``np.save(f, array, allow_pickle=False)`` would write, in pieces.

    A C-contiguous array's data is yielded as a byte view of its memory, so nothing is copied.
    """
    if array.dtype.hasobject:
        raise ValueError("object arrays cannot be written as .npy without pickle")
    sink = _ChunkSink()
    if array.flags.c_contiguous and array.dtype.itemsize and _write_header(sink, array):
        yield from sink.chunks
        yield array.reshape(-1).view(np.uint8)
        return
    sink.chunks.clear()
    npy_format.write_array(sink, array, allow_pickle=False)
    yield from sink.chunks


def _write_header(sink: _ChunkSink, array: np.ndarray) -> bool:
    """Write the header np.save would write (its oldest fitting version); False if none fits."""
    fields = npy_format.header_data_from_array_1_0(array)
    for writer in (npy_format.write_array_header_1_0, npy_format.write_array_header_2_0):
        try:
            writer(sink, fields)
            return True
        except ValueError:
            sink.chunks.clear()
    return False


class NpyHeader(NamedTuple):
    """What an ``.npy`` header declares."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype[Any]
    data_start: int

    @property
    def nbytes(self) -> int:
        """Bytes of data the header declares."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_npy_header(buffer: bytearray | bytes, type_name: str = "ndarray") -> NpyHeader | None:
    """The header at the start of ``buffer``, or None while ``buffer`` holds only part of it.

    Refuses bad magic, unknown versions, oversized headers and object dtypes.
    """

    def bad(rule: str) -> DecodeError:
        return DecodeError(f"{type_name}: {rule}")

    if len(buffer) < 12:
        return None
    if bytes(buffer[:6]) != _MAGIC:
        raise bad("value is not .npy data (bad magic)")
    major = buffer[6]
    if major == 1:
        (header_len,) = struct.unpack_from("<H", buffer, 8)
        start = 10
    elif major == 2:
        (header_len,) = struct.unpack_from("<I", buffer, 8)
        start = 12
    else:
        raise bad(f".npy format version {major} is not accepted (only 1.x and 2.x)")
    if header_len > _MAX_HEADER:
        raise bad(f".npy header longer than {_MAX_HEADER} bytes")
    data_start = start + header_len
    if len(buffer) < data_start:
        return None
    header = io.BytesIO(bytes(buffer[:data_start]))
    try:
        npy_format.read_magic(header)
        reader = (
            npy_format.read_array_header_1_0 if major == 1 else npy_format.read_array_header_2_0
        )
        shape, fortran_order, dtype = reader(header, max_header_size=_MAX_HEADER)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise bad(f".npy header is invalid ({exc})") from None
    if dtype.hasobject:
        raise bad("arrays of Python objects are refused (loading them needs pickle)")
    return NpyHeader(tuple(shape), bool(fortran_order), dtype, data_start)


def checked_npy_header(prefix: bytearray | bytes, length: int,
                       type_name: str = "ndarray") -> NpyHeader:
    """The header of ``.npy`` bytes that start with ``prefix`` and are ``length`` bytes long,
    refused unless it holds exactly the data it declares."""
    if len(prefix) < 10 or bytes(prefix[:6]) != _MAGIC:
        raise DecodeError(f"{type_name}: value is not .npy data (bad magic)")
    header = read_npy_header(prefix, type_name)
    if header is None:
        raise DecodeError(f"{type_name}: .npy header is truncated")
    available = length - header.data_start
    if available != header.nbytes:
        raise DecodeError(
            f"{type_name}: .npy data holds {available} bytes but its header (shape "
            f"{header.shape}, dtype {header.dtype}) says {header.nbytes}"
        )
    return header


def read_npy(buffer: bytearray | bytes, type_name: str = "ndarray") -> np.ndarray:
    """The array stored in ``buffer`` (``.npy`` bytes), viewing ``buffer`` without a copy."""
    shape, fortran_order, dtype, data_start = checked_npy_header(buffer, len(buffer), type_name)
    if dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)
    flat = np.frombuffer(buffer, dtype=dtype, count=math.prod(shape), offset=data_start)
    if fortran_order:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)
