"""The decode budget: what one document may still materialise, charged before allocating.

One :class:`Budget` lives for one ``RuntimeDecoder.decode()`` call and is shared by every value
in the document. Each reader charges it with what a header declares (an ``.npy`` shape times
its item size, a ``ParameterVector`` length, a zlib stream's allowance) before building it, so
a small payload that names a large object is refused while it is still small.
"""

from __future__ import annotations

from engine.errors import DecodeBudgetExceeded
from engine.serialization.policy import DecodeLimits


class Budget:
    """Per-document counters against the policy's limits."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.per_value = limits.max_decompressed_bytes
        self.remaining = limits.max_total_decompressed_bytes
        self.array_bytes = 0
        self.vector_elements = 0

    # --- decompressed bytes -----------------------------------------------------------------

    def allowance(self) -> int:
        """The most decompressed bytes the next binary value may produce."""
        return min(self.per_value, self.remaining)

    def allowance_limit(self) -> str:
        """The policy key that sets :meth:`allowance`."""
        if self.per_value <= self.remaining:
            return "max_decompressed_bytes"
        return "max_total_decompressed_bytes"

    def charge(self, size: int) -> None:
        """Count ``size`` decompressed bytes (already checked against :meth:`allowance`)."""
        self.remaining -= size

    # --- what the bytes become --------------------------------------------------------------

    def charge_array(self, nbytes: int, type_name: str) -> None:
        """Count an array of ``nbytes`` about to be built; refuse it past ``max_array_bytes``."""
        total = self.array_bytes + nbytes
        limit = self.limits.max_array_bytes
        if total > limit:
            raise DecodeBudgetExceeded(
                f"{type_name}: an array of {nbytes} bytes would bring the document's arrays to "
                f"{total} bytes, over max_array_bytes {limit}",
                "max_array_bytes",
            )
        self.array_bytes = total

    def charge_vector(self, length: int, name: str, type_name: str) -> None:
        """Count a ``ParameterVector`` of ``length`` elements about to be built."""
        per_vector = self.limits.max_parameter_vector_length
        if length > per_vector:
            raise DecodeBudgetExceeded(
                f"{type_name}: ParameterVector {name!r} of length {length} exceeds "
                f"max_parameter_vector_length {per_vector}",
                "max_parameter_vector_length",
            )
        total = self.vector_elements + length
        limit = self.limits.max_total_parameter_vector_length
        if total > limit:
            raise DecodeBudgetExceeded(
                f"{type_name}: ParameterVector {name!r} of length {length} would bring the "
                f"document's vectors to {total} elements, over "
                f"max_total_parameter_vector_length {limit}",
                "max_total_parameter_vector_length",
            )
        self.vector_elements = total
