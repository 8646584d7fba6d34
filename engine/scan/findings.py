"""What the static review reports: levels and findings.

A :class:`Finding` is plain data about one place in one file. Whether it blocks an upload is
not a property of the finding but of the policy it is judged under (see ``report.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

Origin = Literal["engine", "bandit"]


class Level(IntEnum):
    """Severity or confidence of a finding, ordered so that comparisons read naturally."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """The lower-case name used in policies, reports and on the command line."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        """``"medium"``, ``"MEDIUM"`` or ``Level.MEDIUM`` -> ``Level.MEDIUM``."""
        if isinstance(value, Level):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(f"unknown level {value!r}; expected low, medium or high") from None


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the review found.

    ``line`` and ``column`` are 1-based (column counts characters, not bytes); ``line`` is 0
    when a finding is about the whole file. ``origin`` says which pass found it: the engine's
    own rules (``rule_id`` like ``PE101``) or bandit (``rule_id`` is bandit's test id).
    """

    rule_id: str
    rule_name: str
    severity: Level
    confidence: Level
    message: str
    file: str
    line: int
    column: int
    source_line: str
    cwe: int | None
    origin: Origin

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON data (the ``findings[]`` items of the JSON report)."""
        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "origin": self.origin,
            "severity": self.severity.label,
            "confidence": self.confidence.label,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "source_line": self.source_line,
            "cwe": self.cwe,
        }
