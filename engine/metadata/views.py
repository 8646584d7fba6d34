"""A value as JSON Schema sees it: converted within the validation limits, quoted briefly."""

from __future__ import annotations

import json
import reprlib
import sys
from collections.abc import Mapping
from typing import Any

from engine.metadata.limits import ValidationLimits
from engine.metadata.problems import _short


class _TooLarge(Exception):
    pass


class _ViewList(list):  # type: ignore[type-arg]
    __slots__ = ("view_size",)

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewDict(dict):  # type: ignore[type-arg]
    __slots__ = ("view_size",)

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewStr(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return _BOUNDED_REPR.repr(self)


class _ViewInt(int):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"<integer of {self.bit_length()} bits>"


class _Opaque:
    """A value with no JSON type (a circuit, a complex number, bytes...): matches no ``type``."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


class _BoundedRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxdict = 6
        self.maxstring = self.maxother = 60
        self.maxlong = 40

    def repr__ViewList(self, value: list[Any], level: int) -> str:
        return self.repr_list(value, level)

    def repr__ViewDict(self, value: dict[str, Any], level: int) -> str:
        return self.repr_dict(value, level)

    def repr__ViewStr(self, value: str, level: int) -> str:
        return self.repr_str(str.__str__(value), level)

    def repr__ViewInt(self, value: int, level: int) -> str:
        return repr(value)

    def repr_instance(self, value: Any, level: int) -> str:
        # Only bounded values reach here: floats, booleans, None, opaque markers.
        return _short(repr(value), self.maxother)


_BOUNDED_REPR = _BoundedRepr()
_LONG_STRING = 120
_BIG_INT_BITS = 256


class _JsonView:
    """Converts a decoded value to what JSON Schema checks, within the validation limits."""

    def __init__(self, limits: ValidationLimits) -> None:
        self.limits = limits
        self.nodes = 0

    def convert(self, value: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _TooLarge(f"holds more than {self.limits.max_nodes} values")
        if depth > self.limits.max_depth:
            raise _TooLarge(f"is nested deeper than {self.limits.max_depth} levels")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _ViewStr(value) if len(value) > _LONG_STRING else str(value)
        if isinstance(value, int):
            return _ViewInt(value) if value.bit_length() > _BIG_INT_BITS else int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, Mapping):
            start = self.nodes
            mapping = _ViewDict(
                (self._key(key), self.convert(item, depth + 1)) for key, item in value.items()
            )
            mapping.view_size = self.nodes - start + 1
            return mapping
        if isinstance(value, (list, tuple, set, frozenset)):
            start = self.nodes
            items = _ViewList(self.convert(item, depth + 1) for item in value)
            items.view_size = self.nodes - start + 1
            return items
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(value, numpy.ndarray):
                if value.size > self.limits.max_nodes - self.nodes:
                    raise _TooLarge(f"holds more than {self.limits.max_nodes} values")
                self.nodes -= 1
                return self.convert(value.tolist(), depth)
            if isinstance(value, numpy.generic):
                self.nodes -= 1
                return self.convert(value.item(), depth)
        return _Opaque(type(value).__name__)

    @staticmethod
    def _key(key: Any) -> str:
        if isinstance(key, str):
            return str(key)
        if key is None or isinstance(key, (bool, int, float)):
            return json.dumps(key)
        return f"<{type(key).__name__}>"


def _quoted_briefly(value: Any) -> Any:
    """The schema with containers and long strings whose ``repr`` is bounded.

    ``jsonschema`` quotes schema values (an ``enum``, a ``const``) in its messages; this keeps
    every such quote short, whatever the schema holds. Equality and types are unchanged.
    """
    if isinstance(value, dict):
        result = _ViewDict((key, _quoted_briefly(item)) for key, item in value.items())
        result.view_size = 1
        return result
    if isinstance(value, list):
        items = _ViewList(_quoted_briefly(item) for item in value)
        items.view_size = 1
        return items
    if isinstance(value, str) and len(value) > _LONG_STRING:
        return _ViewStr(value)
    return value
