"""Values the decoder hands back as plain data, with a warning saying why."""

from __future__ import annotations

import warnings
from typing import Any


class DecodeWarning(UserWarning):
    """A payload part was returned as plain data instead of the object it names."""


def as_plain(obj: Any, reason: str) -> Any:
    """Warn with ``reason`` and return ``obj`` unchanged."""
    warnings.warn(reason, DecodeWarning, stacklevel=4)
    return obj
