"""Static review of uploaded programs: the engine's ast rules, source checks and bandit.

``scan_source`` reviews one program's source and ``scan_files`` the files of a multi-file
upload (the upload path); ``scan_paths`` reviews files and folders (``program-engine
scan``). All judge findings under a :class:`ScanPolicy`, by default ``policies/scan.yaml``,
and return a :class:`Report`.
"""

from engine.scan.findings import Finding, Level
from engine.scan.policy import ScanPolicy, load_scan_policy, policy_from_mapping
from engine.scan.report import Report
from engine.scan.rules import RULES, Rule
from engine.scan.scanner import scan_files, scan_paths, scan_source

__all__ = [
    "RULES",
    "Finding",
    "Level",
    "Report",
    "Rule",
    "ScanPolicy",
    "load_scan_policy",
    "policy_from_mapping",
    "scan_files",
    "scan_paths",
    "scan_source",
]
