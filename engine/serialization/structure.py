"""The shape of a JSON text measured without parsing it: nesting depth and number of values.

``json.loads`` recurses once per level of nesting (200,000 levels end in ``RecursionError``)
and builds every value it meets, so both are measured on the text first, iteratively and in
bounded memory. Escaped backslashes and escaped quotes are removed first, so that every quote
left opens or closes a string; then, a chunk of the text at a time, NumPy marks what lies
inside strings by the parity of the quotes before it, and counts and sums the brackets and
commas outside them. Nothing here recurses, and the cost does not depend on what the text
holds (measured: bench/payload_check.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import DecodeBudgetExceeded
from engine.serialization.policy import DecodeLimits

# Characters of text measured per NumPy step.
_CHUNK = 1 << 20
_QUOTE, _COMMA = ord('"'), ord(",")
_OPEN_ARRAY, _OPEN_OBJECT, _CLOSE_ARRAY, _CLOSE_OBJECT = (ord(c) for c in "[{]}")


@dataclass(frozen=True)
class Structure:
    """What a JSON text holds outside its strings.

    ``values`` is an upper bound on the values a parser would build: the document itself and
    every element of every array and object (one more than its commas, unless it is empty).
    ``balanced`` is False when a closing bracket comes before its opening one or some bracket
    is never closed (the text is then not JSON).
    """

    depth: int
    values: int
    balanced: bool


def measure_structure(text: str) -> Structure:
    """Measure ``text`` (any string; it need not be valid JSON)."""
    # What remains of an escape cannot open or close a string: drop escaped backslashes
    # first (pairs, left to right, as a JSON reader takes them), then escaped quotes.
    plain = text.replace("\\\\", "").replace('\\"', "")
    quotes = level = deepest = containers = commas = empties = 0
    balanced = True
    opened_last = False  # the previous chunk ended with an opening bracket outside strings
    for start in range(0, len(plain), _CHUNK):
        # UTF-8: bytes of multi-byte characters are never ASCII, so quotes and brackets stay
        # single bytes and nothing else looks like one.
        codes = np.frombuffer(
            plain[start : start + _CHUNK].encode("utf-8", "surrogatepass"), dtype=np.uint8
        )
        quote = codes == _QUOTE
        inside = (np.cumsum(quote) + quotes) % 2 == 1  # an opening quote counts as inside
        quotes += int(np.count_nonzero(quote))
        outside = ~(inside | quote)
        opens = outside & ((codes == _OPEN_ARRAY) | (codes == _OPEN_OBJECT))
        closes = outside & ((codes == _CLOSE_ARRAY) | (codes == _CLOSE_OBJECT))
        containers += int(np.count_nonzero(opens))
        commas += int(np.count_nonzero(outside & (codes == _COMMA)))
        empties += int(np.count_nonzero(opens[:-1] & closes[1:]))
        empties += int(opened_last and bool(closes[0]))
        opened_last = bool(opens[-1])
        steps = opens.astype(np.int64)
        steps -= closes
        if not steps.any():
            continue
        levels = np.cumsum(steps)
        levels += level
        deepest = max(deepest, int(levels.max()))
        balanced = balanced and int(levels.min()) >= 0
        level = int(levels[-1])
    values = 1 + commas + containers - empties  # one more element than commas, if any
    return Structure(depth=deepest, values=values, balanced=balanced and level == 0)


def check_structure(text: str, limits: DecodeLimits) -> None:
    """Refuse ``text`` if it nests deeper than ``max_depth`` or holds more than ``max_values``.

    Counting brackets and commas in the whole text (strings included) gives upper bounds in
    one fast pass; the strings are cut out only when those bounds break a limit.
    """
    containers = text.count("[") + text.count("{")
    if containers <= limits.max_depth and 1 + containers + text.count(",") <= limits.max_values:
        return
    structure = measure_structure(text)
    if structure.depth > limits.max_depth:
        raise DecodeBudgetExceeded(
            f"document nests deeper than max_depth {limits.max_depth} "
            f"({structure.depth} levels)",
            "max_depth",
        )
    if structure.values > limits.max_values:
        raise DecodeBudgetExceeded(
            f"document holds up to {structure.values} values, more than max_values "
            f"{limits.max_values}",
            "max_values",
        )
