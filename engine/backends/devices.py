"""Building one host backend object: an Aer simulator by method, or a fake device."""

from __future__ import annotations

import re
from typing import Any

from engine.backends.policy import BackendPolicy

GENERIC_NAME = re.compile(r"^fake_(\d{1,4})q$")


def build_backend(policy: BackendPolicy, name: str, method: str) -> Any:
    """A new backend object for the canonical ``name``; callers keep it to one thread."""
    match = GENERIC_NAME.match(name)
    if match:
        from qiskit.providers.fake_provider import GenericBackendV2

        return GenericBackendV2(num_qubits=int(match.group(1)), seed=policy.generic_devices.seed)
    from qiskit_aer import AerSimulator

    options: dict[str, Any] = {"method": method}
    if policy.max_parallel_threads:
        options["max_parallel_threads"] = policy.max_parallel_threads
    return AerSimulator(**options)
