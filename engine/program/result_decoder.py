"""``ResultDecoder``: turns a program's raw result into the objects its user wants."""

from __future__ import annotations

import json
from typing import Any


class ResultDecoder:
    """Decodes a job's result or interim message.

    Program authors subclass it and override :meth:`decode`, calling ``super().decode(data)``
    first to get the data as ``RuntimeDecoder`` reads it, then building their own objects.
    """

    @classmethod
    def decode(cls, data: Any) -> Any:
        """Decode ``data``: a JSON string is parsed with ``RuntimeDecoder``; anything else is
        returned as it is (it was decoded already)."""
        if isinstance(data, (str, bytes, bytearray)):
            from engine.serialization import RuntimeDecoder  # imports Qiskit: only when needed

            try:
                return json.loads(data, cls=RuntimeDecoder)
            except json.JSONDecodeError:
                return data
        return data

    @classmethod
    def decoded(cls, data: Any) -> Any:
        """Alias of :meth:`ResultDecoder.decode` used by the original service's documentation.

        It always runs the base decoding, so ``super().decoded(data)`` in a subclass's
        ``decode`` does not recurse into the subclass.
        """
        return ResultDecoder.decode.__func__(cls, data)  # type: ignore[attr-defined]
