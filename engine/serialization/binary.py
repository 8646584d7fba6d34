"""Base64 and zlib for binary values on the wire, bounded in both directions.

Encoding compresses chunk by chunk and decoding inflates chunk by chunk with ``max_length``,
so neither ever holds more than the compressed text plus the raw bytes, and a zlib bomb
stops at its limit instead of at the end of memory.
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Callable, Iterable

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization.budget import Budget

# Base64 characters handled per step; a multiple of 4 so that each slice decodes alone.
_B64_STEP = 1 << 20
# Raw bytes handed to zlib per step, so its output arrives in small pieces.
_COMPRESS_STEP = 1 << 20
# Most bytes inflated per step while a value's header is still being inspected (and, when
# the value is only counted, _COMPRESS_STEP after it).
_INSPECT_STEP = 1 << 16


def b64_text(data: bytes | bytearray | memoryview) -> str:
    """Standard base64 of ``data`` as ``str`` (no line breaks)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return encoded.decode("ascii")


class B64Text:
    """Base64 text kept as pieces until it is written out, so that no step of encoding holds
    the whole compressed value and the whole text at once. ``str()`` joins the pieces."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def __str__(self) -> str:
        return "".join(self.pieces)


def compressed_b64(chunks: Iterable[bytes | bytearray | memoryview], level: int = -1) -> B64Text:
    """zlib-compress the concatenation of ``chunks`` and base64 the result as it comes out."""
    compressor = zlib.compressobj(level)
    pending = bytearray()
    pieces: list[str] = []

    def drain(final: bool) -> None:
        usable = len(pending) if final else len(pending) - len(pending) % 3
        if not usable:
            return
        with memoryview(pending) as view:
            piece = binascii.b2a_base64(view[:usable], newline=False)
        del pending[:usable]
        pieces.append(piece.decode("ascii"))

    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        for start in range(0, len(view), _COMPRESS_STEP):
            pending += compressor.compress(view[start : start + _COMPRESS_STEP])
            if len(pending) >= _COMPRESS_STEP:
                drain(final=False)
    pending += compressor.flush()
    drain(final=True)
    return B64Text(pieces)


def compressed_b64_text(chunks: Iterable[bytes | bytearray | memoryview], level: int = -1) -> str:
    """zlib-compress the concatenation of ``chunks`` and return it as base64 text."""
    return str(compressed_b64(chunks, level))


def _b64_slice(text: str, type_name: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"{type_name}: value is not valid standard base64 ({exc})") from None


def _require_text(value: object, type_name: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{type_name}: value must be a base64 string, not {type(value).__name__}")
    return value


def unb64(value: object, type_name: str, budget: Budget) -> bytes:
    """Decode base64 text that is not compressed, within the budget."""
    text = _require_text(value, type_name)
    limit = budget.allowance()
    if len(text) // 4 * 3 > limit:
        raise DecodeBudgetExceeded(
            f"{type_name}: decoded value would exceed {limit} bytes ({budget.allowance_limit()})",
            budget.allowance_limit(),
        )
    data = _b64_slice(text, type_name)
    budget.charge(len(data))
    return data


def inflate(
    value: object,
    type_name: str,
    budget: Budget,
    inspect: Callable[[bytearray], bool] | None = None,
) -> bytearray:
    """Decode base64 text of zlib-compressed bytes, stopping at the budget.

    ``inspect`` sees the bytes inflated so far, in steps of at most 64 KiB, until it returns
    True: a reader checks its header there (and raises) before the rest is inflated.
    """
    return _inflate(value, type_name, budget, inspect, keep=True)[0]


def inflated_length(
    value: object, type_name: str, budget: Budget, inspect: Callable[[bytearray], bool]
) -> tuple[bytearray, int]:
    """Check a value as :func:`inflate` does, keeping only its header: the bytes up to where
    ``inspect`` returned True, and the number of bytes the whole value inflates to.

    For checking a payload that is then dropped: it never holds the inflated value."""
    return _inflate(value, type_name, budget, inspect, keep=False)


def _inflate(
    value: object,
    type_name: str,
    budget: Budget,
    inspect: Callable[[bytearray], bool] | None,
    *,
    keep: bool,
) -> tuple[bytearray, int]:
    text = _require_text(value, type_name)
    limit = budget.allowance()
    inflater = zlib.decompressobj()
    out = bytearray()
    length = 0
    pending = inspect

    def step(data: bytes) -> None:
        nonlocal pending, length
        room = limit - length + 1
        most = _INSPECT_STEP if pending is not None else room if keep else _COMPRESS_STEP
        piece = inflater.decompress(data, min(room, most))
        length += len(piece)
        if keep or pending is not None:
            out.extend(piece)
        if length > limit:
            raise DecodeBudgetExceeded(
                f"{type_name}: decompressed value exceeds {limit} bytes "
                f"({budget.allowance_limit()})",
                budget.allowance_limit(),
            )
        if pending is not None and pending(out):
            pending = None

    try:
        for start in range(0, len(text), _B64_STEP):
            step(_b64_slice(text[start : start + _B64_STEP], type_name))
            while inflater.unconsumed_tail:
                step(inflater.unconsumed_tail)
    except zlib.error as exc:
        raise DecodeError(f"{type_name}: value is not a valid zlib stream ({exc})") from None
    if not inflater.eof:
        raise DecodeError(f"{type_name}: zlib stream is truncated")
    if inflater.unused_data:
        raise DecodeError(f"{type_name}: bytes follow the end of the zlib stream")
    budget.charge(length)
    return out, length
