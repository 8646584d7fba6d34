"""Appending to and reading the hash-chained audit log (see :mod:`engine.audit`).

Appends are serialised so the chain never forks, whatever number of services write at
once: on SQLite the write transaction already holds the database's write lock; on
PostgreSQL :meth:`AuditRepository.append` takes a transaction-scoped advisory lock before
reading the newest entry. Two appends that still raced would collide on ``seq``, the
primary key, and one would fail rather than fork the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text

from engine.audit import (
    GENESIS_HASH,
    AuditOrigin,
    AuditRecord,
    canonical_form,
    chain_hash,
    encode_details,
)
from engine.store.models import NAME_LENGTH, PATH_LENGTH, AuditEntry
from engine.store.repository import Repository, check_aware, check_page, decode_json, utcnow

_AUDIT = cast(Table, AuditEntry.__table__)

# Key of the PostgreSQL advisory lock that serializes audit appends (any fixed 64-bit int).
_AUDIT_LOCK_KEY = 0x656E67617564  # "engaud"


class AuditRepository(Repository):
    """The audit log in one transaction (see :class:`~engine.store.database.Database`)."""

    def append(self, *, actor: str, action: str, obj: str,
               details: Mapping[str, Any] | None, origin: AuditOrigin) -> AuditRecord:
        """Append one entry after the newest; return it."""
        self._require_write("append")
        if self.dialect == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": _AUDIT_LOCK_KEY})
        last = self.session.execute(
            select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)
        ).one_or_none()
        seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
        values = {
            "seq": seq,
            "at": utcnow(),
            "actor": actor[:NAME_LENGTH],
            "action": str(action),
            "object": obj[:PATH_LENGTH],
            "details": encode_details(details),
            "origin": str(origin.kind),
            "client": None if origin.client is None else origin.client[:NAME_LENGTH],
            "request_id": origin.request_id,
        }
        canonical = canonical_form(values["seq"], values["at"], values["actor"],
                                   values["action"], values["object"], values["details"],
                                   values["origin"], values["client"], values["request_id"])
        values["prev_hash"] = prev_hash
        values["hash"] = chain_hash(prev_hash, canonical)
        self.session.execute(insert(_AUDIT).values(**values))
        return _record(_Row(**values))

    def list(self, *, since: datetime | None = None, actor: str | None = None,
             action: str | None = None, obj: str | None = None,
             limit: int | None = 100, skip: int = 0) -> list[AuditRecord]:
        """Entries matching every filter given, oldest first."""
        check_page(limit, skip)
        check_aware(since, "since")
        query = select(_AUDIT).order_by(_AUDIT.c.seq).offset(skip)
        if since is not None:
            query = query.where(_AUDIT.c.at >= since)
        if actor is not None:
            query = query.where(_AUDIT.c.actor == actor)
        if action is not None:
            query = query.where(_AUDIT.c.action == action)
        if obj is not None:
            query = query.where(_AUDIT.c.object == obj)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in self.session.execute(query)]

    def stored(self, batch: int = 1000) -> Iterator[Any]:
        """Every entry as stored (``details`` as text), in ``seq`` order, read in batches."""
        after = 0
        while True:
            rows = self.session.execute(
                select(_AUDIT).where(_AUDIT.c.seq > after).order_by(_AUDIT.c.seq).limit(batch)
            ).all()
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq


class _Row:
    """Attribute access over the values just inserted (the shape of a selected row)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _record(row: Any) -> AuditRecord:
    return AuditRecord(row.seq, row.at, row.actor, row.action, row.object,
                       decode_json(row.details), row.origin, row.client, row.request_id,
                       row.prev_hash, row.hash)
