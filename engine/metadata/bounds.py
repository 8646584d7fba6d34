"""The bounded walk that sizes a JSON-like value before anything else reads it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _measure(
    value: Any, max_bytes: int, max_depth: int, max_nodes: int | None
) -> tuple[tuple[Any, ...], str] | None:
    """The first bound a JSON-like value breaks, as ``(path, message)``, or ``None``.

    Iterative, and stops as soon as a bound is passed, so a huge, deep or cyclic value costs
    no more than the bound itself.
    """
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    size = nodes = 0
    while stack:
        item, depth, path = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            return path, f"has more than {max_nodes} nodes"
        if depth > max_depth:
            return path, f"is nested deeper than {max_depth} levels"
        if isinstance(item, Mapping):
            size += 2 + len(item)
            for key, child in item.items():
                if not isinstance(key, str):
                    return path, f"has a key of type {type(key).__name__}; keys must be strings"
                size += _text_size(key) + 1
                stack.append((child, depth + 1, (*path, key)))
                if size > max_bytes:
                    break
        elif isinstance(item, list):
            size += 2 + len(item)
            if max_nodes is not None and len(item) > max_nodes:
                return path, f"has more than {max_nodes} nodes"
            if size <= max_bytes:
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
        elif isinstance(item, str):
            size += _text_size(item)
        elif item is None or isinstance(item, bool):
            size += 5
        elif isinstance(item, int):
            if item.bit_length() > _MAX_INT_BITS:
                return path, f"holds an integer of more than {_MAX_INT_BITS} bits"
            size += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path, f"holds {item!r}, which is not a JSON number"
            size += 24
        else:
            return path, f"holds a {type(item).__name__}, which is not a JSON value"
        if size > max_bytes:
            return (), f"is larger than {max_bytes} bytes"
    return None


_MAX_INT_BITS = 1024


def _text_size(text: str) -> int:
    if len(text) > 1 << 24:  # no need to encode a huge string to know it is too big
        return len(text) + 2
    return (len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))) + 2
