"""Objects that travel as their ``settings``: written for any class, rebuilt only if allowlisted.

The encoder writes ``{"__type__": "settings", "__module__", "__class__", "__value__"}`` for every
object with a ``settings`` mapping, like the original client. The decoder rebuilds one only when
the exact module and class are on the policy's allowlist, passes only the listed keyword
arguments, and accepts only plain data (and the allowlisted classes the entry names) as their
values. The module it imports is the policy's string, never one a payload chose.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import numpy as np

from engine.errors import DecodeError
from engine.serialization.plain import as_plain
from engine.serialization.policy import SerializationPolicy, SettingsClass

INT_KEYS_FLAG = "__int_keys__"

_PLAIN_SCALARS = (type(None), bool, int, float, complex, str, np.bool_, np.number)


def flag_int_keys(value: Any) -> Any:
    """Copy the dict structure of ``value``, marking each dict with int keys as the original
    client does (``"__int_keys__": true``); lists and leaves are shared, not copied."""
    if not isinstance(value, dict):
        return value
    out = {key: flag_int_keys(item) for key, item in value.items()}
    if any(isinstance(key, int) for key in value):
        out[INT_KEYS_FLAG] = True
    return out


def restore_int_keys(value: Any, max_digits: int) -> Any:
    """Turn the string keys of flagged dicts back into ints and drop the flags."""
    if not isinstance(value, dict):
        return value
    flagged = value.get(INT_KEYS_FLAG) is True
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if key == INT_KEYS_FLAG and flagged:
            continue
        item = restore_int_keys(item, max_digits)
        if flagged and isinstance(key, str) and len(key) <= max_digits:
            try:
                out[int(key)] = item
                continue
            except ValueError:
                pass
        out[key] = item
    return out


@lru_cache(maxsize=64)
def _resolve(entry: SettingsClass) -> type:
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise DecodeError(
            f"settings: allowlisted module {entry.module} cannot be imported ({exc})"
        ) from None
    cls = getattr(module, entry.class_name, None)
    if not isinstance(cls, type) or cls.__module__ != entry.module:
        raise DecodeError(
            f"settings: {entry.module}.{entry.class_name} is not a class defined there"
        )
    return cls


def _nested_types(entry: SettingsClass, policy: SerializationPolicy) -> tuple[type, ...]:
    types = []
    for name in entry.nested:
        for candidate in policy.settings_allowlist:
            if candidate.class_name == name:
                types.append(_resolve(candidate))
    return tuple(types)


def _check_values(value: Any, entry: SettingsClass, allowed: tuple[type, ...]) -> None:
    """Refuse anything but plain data and the entry's nested classes inside ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN_SCALARS):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, (str, int)):
                    raise DecodeError(f"settings: {entry.class_name} has a non-string key")
                stack.append(sub)
        elif isinstance(item, np.ndarray):
            if item.dtype.hasobject:
                stack.extend(item.ravel().tolist())
        elif allowed and type(item) in allowed:
            continue
        else:
            raise DecodeError(
                f"settings: {entry.class_name} may be given only plain data"
                + (f" and {', '.join(entry.nested)}" if entry.nested else "")
                + f", not {type(item).__name__}"
            )


def build_from_settings(obj: dict[str, Any], policy: SerializationPolicy) -> Any:
    """Rebuild the object a ``settings`` payload describes, or refuse it."""
    module = obj.get("__module__")
    class_name = obj.get("__class__")
    if not isinstance(module, str) or not isinstance(class_name, str):
        raise DecodeError("settings: __module__ and __class__ must be strings")
    entry = policy.settings_class(module, class_name)
    if entry is None:
        if policy.on_unlisted_settings == "plain":
            return as_plain(
                obj, f"settings: {module}.{class_name} is not on the allowlist; kept as data"
            )
        raise DecodeError(f"settings: class {module}.{class_name} is not on the settings allowlist")
    value = obj["__value__"]
    if not isinstance(value, dict):
        raise DecodeError(f"settings: the value of {class_name} must be an object")
    kwargs = restore_int_keys(value, policy.limits.max_integer_digits)
    unexpected = sorted(str(key) for key in kwargs if key not in entry.arguments)
    if unexpected:
        raise DecodeError(
            f"settings: {class_name} does not accept argument(s) {', '.join(unexpected)} "
            f"(allowed: {', '.join(entry.arguments)})"
        )
    _check_values(kwargs, entry, _nested_types(entry, policy))
    cls = _resolve(entry)
    try:
        return cls(**kwargs)
    except Exception as exc:
        raise DecodeError(f"settings: {class_name} rejected its arguments: {exc}") from None
