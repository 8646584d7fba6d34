"""``policies/review.yaml``: which uploads wait for a reviewer, and who may decide.

:meth:`ReviewPolicy.status_for` turns an accepted scan report into the version's first
review state: ``pending_review`` when a finding falls in the review band (by severity or
by rule id) or a switch asks for review, otherwise ``approved``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.policy_files import load_policy_model
from engine.records import ReviewStatus


class ReviewBand(BaseModel):
    """Findings that put a version in review instead of letting it run at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_severity: str | None = None
    rule_ids: tuple[str, ...] = ()

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from engine.scan.findings import Level

        Level.parse(value)  # raises naming the value
        return value.lower()


class ReviewPolicy(BaseModel):
    """The review policy (see ``policies/review.yaml`` for each key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_band: ReviewBand = ReviewBand()
    review_new_programs: bool = False
    review_public_updates: bool = False
    allow_self_approval: bool = False
    max_comment_length: int = Field(default=4000, ge=1, le=100_000)
    max_page_size: int = Field(default=500, ge=1, le=100_000)

    def status_for(self, report: Any, *, first_version: bool, public: bool) -> ReviewStatus:
        """The review state of a version whose scan ``report`` was accepted."""
        if (first_version and self.review_new_programs) or (
            not first_version and public and self.review_public_updates
        ):
            return ReviewStatus.PENDING_REVIEW
        if report is not None and any(self.in_band(finding) for finding in report.findings):
            return ReviewStatus.PENDING_REVIEW
        return ReviewStatus.APPROVED

    def in_band(self, finding: Any) -> bool:
        """Whether a finding alone sends its version to a reviewer."""
        band = self.review_band
        if finding.rule_id in band.rule_ids:
            return True
        if band.min_severity is None:
            return False
        from engine.scan.findings import Level

        return bool(finding.severity >= Level.parse(band.min_severity))


def load_review_policy() -> ReviewPolicy:
    """The review policy from ``policies/review.yaml``."""
    return load_policy_model("review", ReviewPolicy)
