"""Shared helpers for the static-review tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.scan import Report, ScanPolicy, load_scan_policy, scan_source

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REPO = HERE.parent.parent


@pytest.fixture(scope="session")
def policy() -> ScanPolicy:
    return load_scan_policy()


def rule_ids(report: Report) -> set[str]:
    return {finding.rule_id for finding in report.findings}


@pytest.fixture
def scan(policy: ScanPolicy) -> Callable[..., Report]:
    """Scan a dedented snippet under the default policy (or the one given)."""

    def run(source: str | bytes, policy_: ScanPolicy | None = None) -> Report:
        if isinstance(source, str):
            source = textwrap.dedent(source)
        return scan_source(source, "snippet.py", policy_ or policy)

    return run


def with_changes(policy: ScanPolicy, **changes: object) -> ScanPolicy:
    """``policy`` with top-level sections replaced or updated (dicts are merged one level)."""
    data = policy.model_dump()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "rules":
            data[key].update(value)
        else:
            data[key] = value
    return ScanPolicy.model_validate(data)
