"""Queries on the review state of program versions: the queue, decisions, what may run.

A version's ``review_status`` is set when it is stored and changes at most once more, from
``pending_review`` to ``approved`` or ``rejected``, by a conditional ``UPDATE``: two
reviewers deciding at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, true, update

from engine.records import ReviewStatus
from engine.store.models import Program, ProgramVersion
from engine.store.repository import Repository, check_page, decode_json, utcnow

_PROGRAMS = cast(Table, Program.__table__)
_VERSIONS = cast(Table, ProgramVersion.__table__)


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """One program version as its reviewers see it (files are read separately)."""

    program_id: str
    version: int
    name: str
    owner: str
    is_public: bool
    status: ReviewStatus
    uploader: str | None
    uploaded_at: datetime
    scan_report: dict[str, Any] | None
    reviewed_by: str | None
    review_comment: str | None
    reviewed_at: datetime | None


class ReviewRepository(Repository):
    """Review states in one transaction (see :class:`~engine.store.database.Database`)."""

    def record_scan(self, program_id: str, version: int, *, status: ReviewStatus,
                    uploader: str, scan_report: str | None) -> None:
        """Set a freshly stored version's review state, uploader and scan report (JSON)."""
        self._require_write("record_scan")
        self.session.execute(
            update(_VERSIONS)
            .where(_VERSIONS.c.program_id == program_id, _VERSIONS.c.version == version)
            .values(review_status=status.value, uploader=uploader, scan_report=scan_report)
        )

    def decide(self, program_id: str, version: int, *, status: ReviewStatus,
               reviewer: str, comment: str) -> bool:
        """Approve or reject a pending version; ``False`` if it is not pending (any more)."""
        self._require_write("decide")
        result = self.session.execute(
            update(_VERSIONS)
            .where(_VERSIONS.c.program_id == program_id, _VERSIONS.c.version == version,
                   _VERSIONS.c.review_status == ReviewStatus.PENDING_REVIEW.value)
            .values(review_status=status.value, reviewed_by=reviewer,
                    review_comment=comment, reviewed_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def latest_approved(self, program_id: str, *, before: int | None = None) -> int | None:
        """The newest approved version of a program (below ``before`` if given), or ``None``."""
        query = select(func.max(_VERSIONS.c.version)).where(
            _VERSIONS.c.program_id == program_id,
            _VERSIONS.c.review_status == ReviewStatus.APPROVED.value,
        )
        if before is not None:
            query = query.where(_VERSIONS.c.version < before)
        value = self.session.execute(query).scalar_one_or_none()
        return None if value is None else int(value)

    def pending(self, program_id: str) -> int | None:
        """The newest version of a program waiting for review, or ``None``."""
        value = self.session.execute(
            select(func.max(_VERSIONS.c.version)).where(
                _VERSIONS.c.program_id == program_id,
                _VERSIONS.c.review_status == ReviewStatus.PENDING_REVIEW.value,
            )
        ).scalar_one_or_none()
        return None if value is None else int(value)

    def get(self, program_id: str, version: int) -> ReviewRecord | None:
        """One version's review record, or ``None``."""
        row = self.session.execute(
            _select().where(_VERSIONS.c.program_id == program_id,
                            _VERSIONS.c.version == version)
        ).one_or_none()
        return None if row is None else _record(row)

    def list(self, *, viewer: str, sees_all: bool, status: ReviewStatus | None,
             own_only: bool = False, limit: int | None = 20, skip: int = 0
             ) -> list[ReviewRecord]:
        """Versions ``viewer`` may see (every one when ``sees_all``; only their own programs'
        with ``own_only``), oldest upload first."""
        check_page(limit, skip)
        if own_only:
            visible = _PROGRAMS.c.owner == viewer
        else:
            visible = true() if sees_all else or_(_PROGRAMS.c.owner == viewer,
                                                  _PROGRAMS.c.is_public)
        query = _select().where(visible)
        if status is not None:
            query = query.where(_VERSIONS.c.review_status == status.value)
        query = query.order_by(_VERSIONS.c.created_at, _VERSIONS.c.program_id,
                               _VERSIONS.c.version).offset(skip)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in self.session.execute(query)]


def _select() -> Any:
    return select(
        _VERSIONS.c.program_id, _VERSIONS.c.version, _PROGRAMS.c.name, _PROGRAMS.c.owner,
        _PROGRAMS.c.is_public, _VERSIONS.c.review_status, _VERSIONS.c.uploader,
        _VERSIONS.c.created_at, _VERSIONS.c.scan_report, _VERSIONS.c.reviewed_by,
        _VERSIONS.c.review_comment, _VERSIONS.c.reviewed_at,
    ).join(_PROGRAMS, and_(_PROGRAMS.c.id == _VERSIONS.c.program_id))


def _record(row: Any) -> ReviewRecord:
    (program_id, version, name, owner, is_public, status, uploader, created_at, report,
     reviewed_by, comment, reviewed_at) = row
    return ReviewRecord(program_id, version, name, owner, bool(is_public),
                        ReviewStatus(status), uploader or owner, created_at,
                        decode_json(report) if report else None, reviewed_by, comment,
                        reviewed_at)
