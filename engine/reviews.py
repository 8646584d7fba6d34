"""What a reviewer sees of one program version, and the decisions they can take on it.

:func:`review_view` puts together, for one version: its scan report with the source lines
around each finding, a unified diff of every file and of the metadata against the previous
approved version (or against nothing for a first version), the uploader, the upload time
and the program's visibility. :class:`ProgramReview` is that view as an object, the same
whether it came from the embedded service or over HTTP; ``approve(comment)`` and
``reject(comment)`` go back through the service it came from.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

#: Lines shown before and after a finding's line.
CONTEXT_LINES = 2


class ReviewSource(Protocol):
    """What a :class:`ProgramReview` decides through (either service)."""

    def approve_version(self, program_id: str, version: int, comment: str = "") -> Any: ...

    def reject_version(self, program_id: str, version: int, comment: str) -> Any: ...


class ProgramReview:
    """One program version under review: read its fields, then ``approve`` or ``reject``.

    ``status`` is ``approved``, ``pending_review`` or ``rejected``; ``findings`` are the scan
    findings, each with ``context`` (the numbered source lines around it); ``diff`` maps each
    changed file to its unified diff against ``base_version`` (the previous approved
    version, ``None`` if there is none); ``metadata_diff`` is the same for the metadata.
    """

    def __init__(self, data: Mapping[str, Any], source: ReviewSource | None = None) -> None:
        self._data = dict(data)
        self._source = source

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def uploaded_at(self) -> datetime | None:
        value = self._data.get("uploaded_at")
        return datetime.fromisoformat(value) if value else None

    def approve(self, comment: str = "") -> ProgramReview:
        """Approve this version (a reviewer's decision); it becomes the one jobs run."""
        return self._decided(self._require_source().approve_version(
            self.program_id, self.version, comment))

    def reject(self, comment: str) -> ProgramReview:
        """Reject this version with a comment saying why (required)."""
        return self._decided(self._require_source().reject_version(
            self.program_id, self.version, comment))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready view (what ``GET /v1/reviews/{id}/{version}`` answers)."""
        return dict(self._data)

    def _require_source(self) -> ReviewSource:
        if self._source is None:
            raise RuntimeError("this review was not read through a service; it cannot decide")
        return self._source

    def _decided(self, updated: ProgramReview) -> ProgramReview:
        self._data = dict(updated._data)
        return self

    def __repr__(self) -> str:
        return f"<ProgramReview {self.program_id} v{self.version} {self.status}>"


def review_view(record: Any, *, files: Mapping[str, bytes] | None, metadata: Mapping[str, Any],
                base_version: int | None, base_files: Mapping[str, bytes] | None,
                base_metadata: Mapping[str, Any] | None, detailed: bool = True
                ) -> dict[str, Any]:
    """The reviewer's view of one version (``record``: a store ``ReviewRecord``)."""
    data: dict[str, Any] = {
        "program_id": record.program_id,
        "version": record.version,
        "name": record.name,
        "owner": record.owner,
        "visibility": "public" if record.is_public else "private",
        "status": str(record.status),
        "uploader": record.uploader,
        "uploaded_at": record.uploaded_at.isoformat(),
        "reviewed_by": record.reviewed_by,
        "review_comment": record.review_comment,
        "reviewed_at": record.reviewed_at.isoformat() if record.reviewed_at else None,
        "base_version": base_version,
    }
    if not detailed:
        return data
    report = record.scan_report or {}
    data["scan_summary"] = report.get("summary")
    data["findings"] = _findings(report, files or {})
    data["diff"] = file_diffs(base_files or {}, files or {}, base_version, record.version)
    data["metadata_diff"] = metadata_diff(base_metadata, metadata, base_version,
                                          record.version)
    return data


def _findings(report: Mapping[str, Any], files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    found = []
    for entry in report.get("files") or []:
        lines = _text(files.get(entry.get("file", ""), b"")).splitlines()
        for finding in entry.get("findings") or []:
            line = int(finding.get("line") or 0)
            start, end = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
            context = [{"line": n, "text": lines[n - 1]} for n in range(start, end + 1)] \
                if line > 0 else []
            found.append({**finding, "context": context})
    return found


def file_diffs(old: Mapping[str, bytes], new: Mapping[str, bytes], old_version: int | None,
               new_version: int) -> dict[str, str]:
    """The unified diff of each file that differs (added and removed files included)."""
    before = f"v{old_version}" if old_version is not None else "none"
    diffs = {}
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        diffs[path] = "".join(difflib.unified_diff(
            _text(old[path]).splitlines(keepends=True) if path in old else [],
            _text(new[path]).splitlines(keepends=True) if path in new else [],
            fromfile=f"{before}/{path}" if path in old else "/dev/null",
            tofile=f"v{new_version}/{path}" if path in new else "/dev/null",
        ))
    return diffs


def metadata_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any],
                  old_version: int | None, new_version: int) -> str:
    """The unified diff of the metadata as indented, sorted JSON."""
    def lines(value: Mapping[str, Any] | None) -> list[str]:
        if value is None:
            return []
        return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").splitlines(
            keepends=True)

    before = f"v{old_version}/metadata.json" if old_version is not None else "/dev/null"
    return "".join(difflib.unified_diff(lines(old), lines(new), fromfile=before,
                                        tofile=f"v{new_version}/metadata.json"))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
