"""What every repository shares: its session, the read/write guard, time and JSON helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind the store keeps)."""
    return datetime.now(UTC)


def encode_json(value: dict[str, Any], what: str, error: type[ValueError] = ValueError) -> str:
    """``value`` as compact JSON text; ``error`` naming ``what`` if it cannot be."""
    if not isinstance(value, dict):
        raise error(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise error(f"{what} is not JSON-serializable: {exc}") from exc


def decode_json(text: str) -> dict[str, Any]:
    """A JSON object column back as a dict."""
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def check_page(limit: int | None, skip: int) -> None:
    """Refuse a negative page size or offset."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")


def check_text(
    value: str, what: str, max_length: int, error: type[ValueError] = ValueError
) -> None:
    """Refuse an empty or over-long name before the database does (or, on SQLite, doesn't)."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise error(f"{what} must be a string of 1 to {max_length} characters")


def check_aware(value: datetime | None, name: str) -> None:
    """Refuse a naive datetime: the store compares timezone-aware UTC times only."""
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


class Repository:
    """Queries over one session, inside one transaction opened by :class:`Database`.

    A repository from :meth:`Database.read` refuses to change anything: on SQLite a change
    must start its transaction with ``BEGIN IMMEDIATE`` (which :meth:`Database.write` does)
    or a concurrent writer makes it fail instead of wait.
    """

    def __init__(self, session: Session, *, writable: bool) -> None:
        self.session = session
        self.writable = writable

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.session.get_bind().dialect.name

    def _require_write(self, operation: str) -> None:
        if not self.writable:
            raise RuntimeError(
                f"{type(self).__name__}.{operation} changes the store: "
                "use a transaction from Database.write(), not Database.read()"
            )
