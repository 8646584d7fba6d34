"""Static review of uploaded programs: the engine's ast rules, source checks and bandit.

``scan_source`` reviews one program's source and ``scan_files`` the files of a multi-file
upload (the upload path); ``scan_paths`` reviews files and folders (``program-engine
scan``). All judge findings under a :class:`ScanPolicy`, by default ``policies/scan.yaml``,
and return a :class:`Report`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use: reading the policy or a report does not load bandit.
_EXPORTS = {
    "Finding": "engine.scan.findings",
    "Level": "engine.scan.findings",
    "ScanPolicy": "engine.scan.policy",
    "load_scan_policy": "engine.scan.policy",
    "policy_from_mapping": "engine.scan.policy",
    "Report": "engine.scan.report",
    "RULES": "engine.scan.rules",
    "Rule": "engine.scan.rules",
    "scan_files": "engine.scan.scanner",
    "scan_paths": "engine.scan.scanner",
    "scan_source": "engine.scan.scanner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
