"""The result of a review: findings, judged under a policy, with a verdict per file.

A :class:`Report` covers one file (``scan_source``) or many (``scan_paths``). Its
``to_dict()`` is the JSON report, whose schema is documented in ``formats.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.scan.findings import Finding, Level
from engine.scan.policy import ScanPolicy

Verdict = Literal["accepted", "rejected"]

REPORT_SCHEMA = "program-engine/scan-report"
REPORT_SCHEMA_VERSION = 1
_SUMMARY_LISTED = 3
_SUMMARY_MESSAGE = 90


@dataclass(frozen=True)
class Report:
    """Findings for ``files`` and the policy's judgement of them."""

    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    mode: Literal["reject", "warn"] = "reject"
    severity_threshold: Level = Level.MEDIUM
    confidence_threshold: Level = Level.LOW
    tool: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        files: Iterable[str],
        findings: Iterable[Finding],
        policy: ScanPolicy,
        tool: dict[str, str] | None = None,
    ) -> Report:
        return cls(
            files=tuple(files),
            findings=tuple(sorted(findings, key=Finding.sort_key)),
            mode=policy.mode,
            severity_threshold=policy.thresholds.severity,
            confidence_threshold=policy.thresholds.confidence,
            tool=dict(tool or {}),
        )

    # --- judgement --------------------------------------------------------------------

    def is_blocking(self, finding: Finding) -> bool:
        """Whether ``finding`` rejects its file under the report's policy."""
        return (
            self.mode == "reject"
            and finding.severity >= self.severity_threshold
            and finding.confidence >= self.confidence_threshold
        )

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if self.is_blocking(f))

    @property
    def verdict(self) -> Verdict:
        return "rejected" if self.blocking else "accepted"

    @property
    def accepted(self) -> bool:
        return not self.blocking

    def findings_for(self, file: str) -> list[Finding]:
        return [f for f in self.findings if f.file == file]

    def verdict_for(self, file: str) -> Verdict:
        blocked = any(self.is_blocking(f) for f in self.findings if f.file == file)
        return "rejected" if blocked else "accepted"

    @property
    def rejected_files(self) -> list[str]:
        return [file for file in self.files if self.verdict_for(file) == "rejected"]

    # --- presentation -----------------------------------------------------------------

    def summary(self) -> str:
        """One line: the verdict, counts, and the first blocking findings."""
        files = f"{len(self.files)} file" + ("" if len(self.files) == 1 else "s")
        threshold = self.severity_threshold.label
        if self.accepted:
            if not self.findings:
                return f"accepted: {files}, no findings"
            mode = " (warn mode)" if self.mode == "warn" else ""
            at_or_above = sum(1 for f in self.findings if f.severity >= self.severity_threshold)
            return (
                f"accepted{mode}: {files}, {len(self.findings)} finding(s), "
                f"{at_or_above} at or above {threshold}"
            )
        blocking = self.blocking
        listed = "; ".join(_brief(f) for f in blocking[:_SUMMARY_LISTED])
        more = len(blocking) - _SUMMARY_LISTED
        tail = f"; and {more} more" if more > 0 else ""
        rejected = len(self.rejected_files)
        return (
            f"rejected: {rejected} of {files}, {len(blocking)} blocking finding(s) at or above "
            f"{threshold}: {listed}{tail}"
        )

    def counts(self) -> dict[str, Any]:
        by_severity = {level.label: 0 for level in sorted(Level, reverse=True)}
        for finding in self.findings:
            by_severity[finding.severity.label] += 1
        return {
            "files": len(self.files),
            "rejected_files": len(self.rejected_files),
            "findings": len(self.findings),
            "blocking": len(self.blocking),
            "by_severity": by_severity,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (see ``formats.py`` for the schema)."""
        files = []
        for file in self.files:
            items = []
            for finding in self.findings_for(file):
                item = finding.to_dict()
                item["blocking"] = self.is_blocking(finding)
                items.append(item)
            files.append({"file": file, "verdict": self.verdict_for(file), "findings": items})
        return {
            "schema": REPORT_SCHEMA,
            "schema_version": REPORT_SCHEMA_VERSION,
            "tool": dict(self.tool),
            "verdict": self.verdict,
            "accepted": self.accepted,
            "summary": self.summary(),
            "policy": {
                "mode": self.mode,
                "severity_threshold": self.severity_threshold.label,
                "confidence_threshold": self.confidence_threshold.label,
            },
            "counts": self.counts(),
            "files": files,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from its :meth:`to_dict` form (as the daemon sends it to the client)."""
        findings = []
        for file in data.get("files") or []:
            for item in file.get("findings") or []:
                findings.append(Finding(
                    rule_id=str(item.get("rule_id", "")),
                    rule_name=str(item.get("rule_name", "")),
                    severity=Level.parse(item.get("severity", "low")),
                    confidence=Level.parse(item.get("confidence", "low")),
                    message=str(item.get("message", "")),
                    file=str(item.get("file", file.get("file", ""))),
                    line=int(item.get("line") or 0),
                    column=int(item.get("column") or 0),
                    source_line=str(item.get("source_line", "")),
                    cwe=item.get("cwe"),
                    origin=item.get("origin", "engine"),
                ))
        policy = data.get("policy") or {}
        return cls(
            files=tuple(str(f.get("file", "")) for f in data.get("files") or []),
            findings=tuple(findings),
            mode=policy.get("mode", "reject"),
            severity_threshold=Level.parse(policy.get("severity_threshold", "medium")),
            confidence_threshold=Level.parse(policy.get("confidence_threshold", "low")),
            tool=dict(data.get("tool") or {}),
        )


def _brief(finding: Finding) -> str:
    message = finding.message
    if len(message) > _SUMMARY_MESSAGE:
        message = message[: _SUMMARY_MESSAGE - 1] + "…"
    return f"{finding.rule_id} {finding.rule_name} at {finding.file}:{finding.line} ({message})"
