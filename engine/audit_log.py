"""The audit log of one store, for the operator's commands (``program-engine audit``).

Whoever can open the store is trusted, as with ``program-engine users``: :func:`open_audit_log`
opens it for one command and :class:`AuditLog` reads entries and verifies the chain. Over
HTTP, admins read the same entries through the service (``GET /v1/audit``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from engine.audit import AuditRecord, ChainBreak, verify_entries

if TYPE_CHECKING:
    from engine.settings import Settings
    from engine.store import Database


class AuditLog:
    """Read and verify the audit log of one store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def list(self, *, since: datetime | None = None, actor: str | None = None,
             action: str | None = None, object_id: str | None = None,
             limit: int | None = None, skip: int = 0) -> list[AuditRecord]:
        """Entries matching every filter given, oldest first."""
        with self._database.read() as tx:
            return tx.audit.list(since=since, actor=actor, action=action, obj=object_id,
                                 limit=limit, skip=skip)

    def verify(self) -> tuple[int, ChainBreak | None]:
        """How many entries were checked, and the first break in the chain (or ``None``)."""
        with self._database.read() as tx:
            return verify_entries(tx.audit.stored())


@contextmanager
def open_audit_log(settings: Settings) -> Iterator[AuditLog]:
    """The audit log of the store ``settings`` name, for one command; closed afterwards."""
    from engine.store import open_database

    database = open_database(settings.database_url, home=settings.home, settings=settings)
    try:
        yield AuditLog(database)
    finally:
        database.close()
