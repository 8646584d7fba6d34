"""A report as text (rich tables), JSON, or SARIF 2.1.0.

JSON report, schema ``program-engine/scan-report`` version 1. Fields are only ever added
within a schema version; a removal or a change of meaning bumps ``schema_version``::

    {
      "schema": "program-engine/scan-report",
      "schema_version": 1,
      "tool": {"name": "program-engine", "version": str, "bandit": str},
      "verdict": "accepted" | "rejected",
      "accepted": bool,
      "summary": str,                       # one line
      "policy": {"mode": "reject" | "warn",
                 "severity_threshold": "low" | "medium" | "high",
                 "confidence_threshold": "low" | "medium" | "high"},
      "counts": {"files": int, "rejected_files": int, "findings": int, "blocking": int,
                 "by_severity": {"high": int, "medium": int, "low": int}},
      "files": [
        {"file": str, "verdict": "accepted" | "rejected",
         "findings": [
           {"rule_id": str,                 # "PE101" (engine) or "B602" (bandit)
            "rule_name": str,
            "origin": "engine" | "bandit",
            "severity": "low" | "medium" | "high",
            "confidence": "low" | "medium" | "high",
            "message": str,
            "file": str,
            "line": int,                     # 1-based; 0 = the whole file
            "column": int,                   # 1-based, in characters
            "source_line": str,              # stripped; control characters escaped
            "cwe": int | null,
            "blocking": bool}]}]
    }
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.scan.findings import Finding, Level
from engine.scan.report import Report
from engine.scan.rules import RULES

FORMATS = ("text", "json", "sarif")
TEXT_WIDTH = 120
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

_SARIF_LEVEL = {Level.HIGH: "error", Level.MEDIUM: "warning", Level.LOW: "note"}
_SECURITY_SEVERITY = {Level.HIGH: "8.0", Level.MEDIUM: "5.0", Level.LOW: "2.0"}
_PRECISION = {Level.HIGH: "high", Level.MEDIUM: "medium", Level.LOW: "low"}
_STYLE = {Level.HIGH: "bold red", Level.MEDIUM: "yellow", Level.LOW: "cyan"}


# --- JSON ----------------------------------------------------------------------------------


def to_json(report: Report) -> str:
    """The JSON report (schema above), indented, ASCII-only."""
    return json.dumps(report.to_dict(), indent=2) + "\n"


# --- text ----------------------------------------------------------------------------------


def render_text(report: Report, console: Console) -> None:
    """One table per file with findings (each with its source line), then the summary."""
    for file in report.files:
        findings = report.findings_for(file)
        verdict = report.verdict_for(file)
        header = Text()
        header.append(file, style="bold")
        header.append(": ")
        header.append(verdict, style="bold red" if verdict == "rejected" else "bold green")
        if not findings:
            header.append(", no findings")
            console.print(header, soft_wrap=True)
            continue
        console.print(header, soft_wrap=True)
        console.print(_table(report, findings))
    style = "bold green" if report.accepted else "bold red"
    console.print(Text(report.summary(), style=style), soft_wrap=True)


def _table(report: Report, findings: list[Finding]) -> Table:
    table = Table(show_lines=True, expand=False, pad_edge=False)
    table.add_column("line:col", justify="right", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("conf.", no_wrap=True)
    table.add_column("finding", overflow="fold")
    for finding in findings:
        rule = Text(finding.rule_id, style="bold")
        rule.append(f"\n{finding.rule_name}", style="dim")
        severity = Text(finding.severity.label, style=_STYLE[finding.severity])
        if report.is_blocking(finding):
            severity.append("\nblocks", style="bold red")
        body = Text(finding.message)
        if finding.source_line:
            body.append("\n")
            body.append(finding.source_line, style="dim")
        table.add_row(
            f"{finding.line}:{finding.column}",
            rule,
            severity,
            Text(finding.confidence.label),
            body,
        )
    return table


def text_console(file: Any = None, color: bool | None = None, width: int | None = None) -> Console:
    """A console for :func:`render_text`: colours only on a terminal unless asked, and
    120 columns when the output is not a terminal (CI logs) and ``COLUMNS`` is unset."""
    if width is None and "COLUMNS" not in os.environ:
        stream = file if file is not None else sys.stdout
        if not getattr(stream, "isatty", lambda: False)():
            width = TEXT_WIDTH
    return Console(
        file=file,
        no_color=color is False,
        force_terminal=color or None,
        width=width,
        highlight=False,
        soft_wrap=False,
    )


# --- SARIF ---------------------------------------------------------------------------------


def to_sarif(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log with one run."""
    descriptors, index = _rule_descriptors(report)
    results = [_result(report, finding, index) for finding in report.findings]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": report.tool.get("name", "program-engine"),
                        "version": report.tool.get("version", "0"),
                        "rules": descriptors,
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "columnKind": "unicodeCodePoints",
                "artifacts": [{"location": {"uri": _uri(file)}} for file in report.files],
                "results": results,
                "properties": {
                    "verdict": report.verdict,
                    "summary": report.summary(),
                    "bandit": report.tool.get("bandit", ""),
                },
            }
        ],
    }


def to_sarif_json(report: Report) -> str:
    return json.dumps(to_sarif(report), indent=2) + "\n"


def _rule_descriptors(report: Report) -> tuple[list[dict[str, Any]], dict[str, int]]:
    descriptors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rule in RULES.values():
        index[rule.id] = len(descriptors)
        descriptors.append(
            _descriptor(
                rule.id, rule.name, rule.rationale, rule.severity, rule.confidence, rule.cwe
            )
        )
    for finding in report.findings:
        if finding.rule_id in index:
            continue
        index[finding.rule_id] = len(descriptors)
        descriptor = _descriptor(
            finding.rule_id,
            finding.rule_name,
            f"bandit test {finding.rule_id} ({finding.rule_name})",
            finding.severity,
            finding.confidence,
            finding.cwe,
        )
        help_uri = _bandit_help(finding.rule_id)
        if help_uri:
            descriptor["helpUri"] = help_uri
        descriptors.append(descriptor)
    return descriptors, index


def _descriptor(
    rule_id: str, name: str, text: str, severity: Level, confidence: Level, cwe: int | None
) -> dict[str, Any]:
    tags = ["security"]
    if cwe:
        tags.append(f"external/cwe/cwe-{cwe}")
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": text},
        "defaultConfiguration": {"level": _SARIF_LEVEL[severity]},
        "properties": {
            "tags": tags,
            "precision": _PRECISION[confidence],
            "security-severity": _SECURITY_SEVERITY[severity],
        },
    }


def _result(report: Report, finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.file)}}
    if finding.line >= 1:
        region: dict[str, Any] = {"startLine": finding.line, "startColumn": max(finding.column, 1)}
        if finding.source_line:
            region["snippet"] = {"text": finding.source_line}
        physical["region"] = region
    properties: dict[str, Any] = {
        "severity": finding.severity.label,
        "confidence": finding.confidence.label,
        "origin": finding.origin,
        "blocking": report.is_blocking(finding),
    }
    if finding.cwe:
        properties["cwe"] = f"CWE-{finding.cwe}"
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": index[finding.rule_id],
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical}],
        "properties": properties,
    }


def _uri(file: str) -> str:
    """A URI reference for a path: relative paths stay relative, with ``/`` separators."""
    path = PurePath(file)
    if path.is_absolute():
        return "file://" + quote(path.as_posix())
    return quote(path.as_posix().replace(os.sep, "/"))


def _bandit_help(test_id: str) -> str | None:
    from bandit.core import docs_utils

    try:
        return docs_utils.get_url(test_id) or None
    except Exception:  # documentation links are a convenience, never a failure
        return None


# --- dispatch ------------------------------------------------------------------------------


def render(report: Report, fmt: str, color: bool | None = None, width: int | None = None) -> str:
    """The report in ``fmt`` as a string (text without colours unless ``color``)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "sarif":
        return to_sarif_json(report)
    if fmt == "text":
        console = text_console(color=bool(color), width=width or TEXT_WIDTH)
        with console.capture() as capture:
            render_text(report, console)
        return capture.get()
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
