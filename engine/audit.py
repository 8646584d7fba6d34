"""The audit log: who did what to which object, from where, in a hash chain.

Every change and every refusal that matters (see :class:`Action`) is appended to the
``audit_log`` table inside the same transaction as the change itself, so an entry exists
exactly when its change does. Entries are numbered 1, 2, 3 ... and each stores
``hash = SHA-256(prev_hash + canonical form)``, where the canonical form is the entry's
fields as sorted, compact JSON. :func:`verify_entries` recomputes the chain and names the
first entry that was changed, removed or inserted.

The chain shows tampering by anyone who cannot recompute it; someone with write access to
the database who rewrites every hash after the entry they change is not caught (keep a copy
of the newest hash elsewhere for that, ``audit list --json`` prints it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: The ``prev_hash`` of entry 1.
GENESIS_HASH = "0" * 64


class Action(StrEnum):
    """What an audit entry records."""

    PROGRAM_UPLOAD = "program.upload"
    PROGRAM_UPDATE = "program.update"
    PROGRAM_VISIBILITY = "program.visibility"
    PROGRAM_DELETE = "program.delete"
    REVIEW_APPROVE = "review.approve"
    REVIEW_REJECT = "review.reject"
    JOB_RUN = "job.run"
    JOB_CANCEL = "job.cancel"
    JOB_DELETE = "job.delete"
    USER_ADD = "user.add"
    USER_REVOKE = "user.revoke"
    USER_TOKEN = "user.token"
    USER_DELETE = "user.delete"
    TOKEN_REVOKE = "token.revoke"
    AUTH_REFUSED = "auth.refused"


class OriginKind(StrEnum):
    """Which door a request came through."""

    EMBEDDED = "embedded"
    CLI = "cli"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class AuditOrigin:
    """Where an action came from: the door, and for HTTP the client address and request id."""

    kind: OriginKind = OriginKind.EMBEDDED
    client: str | None = None
    request_id: str | None = None


EMBEDDED = AuditOrigin()
CLI = AuditOrigin(OriginKind.CLI)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit entry."""

    seq: int
    at: datetime
    actor: str
    action: str
    object: str
    details: dict[str, Any]
    origin: str
    client: str | None
    request_id: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (time as ISO 8601)."""
        return {
            "seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
            "action": self.action, "object": self.object, "details": self.details,
            "origin": self.origin, "client": self.client, "request_id": self.request_id,
            "prev_hash": self.prev_hash, "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What ``audit list`` and ``GET /v1/audit`` select: every field optional."""

    since: datetime | None = None
    actor: str | None = None
    action: str | None = None
    object: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def canonical_form(seq: int, at: datetime, actor: str, action: str, obj: str,
                   details_json: str, origin: str, client: str | None,
                   request_id: str | None) -> str:
    """The text an entry's hash covers: every field, sorted compact JSON, time in UTC ISO."""
    return json.dumps(
        {"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
         "action": action, "object": obj, "details": details_json, "origin": origin,
         "client": client, "request_id": request_id},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )


def chain_hash(prev_hash: str, canonical: str) -> str:
    """SHA-256 (hex) over the previous entry's hash and this entry's canonical form."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def encode_details(details: Mapping[str, Any] | None) -> str:
    """Details as compact, sorted JSON (what is stored and hashed)."""
    return json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"),
                      default=str, ensure_ascii=True)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold: the entry number and what is wrong."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.problem}"


def verify_entries(rows: Iterable[Any]) -> tuple[int, ChainBreak | None]:
    """Walk ``rows`` (stored entries in ``seq`` order, with ``details`` as stored text);
    return how many were checked and the first break, or ``None`` when the chain holds."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for row in rows:
        count += 1
        if row.seq > expected_seq:
            return count, ChainBreak(expected_seq, "was removed (the numbering has a gap "
                                     f"before entry {row.seq})")
        if row.seq < expected_seq:
            return count, ChainBreak(row.seq, "was inserted (its number repeats)")
        if row.prev_hash != prev_hash:
            return count, ChainBreak(row.seq, "was inserted or an entry before it was removed "
                                     "(its previous hash does not match)")
        canonical = canonical_form(row.seq, row.at, row.actor, row.action, row.object,
                                   row.details, row.origin, row.client, row.request_id)
        if chain_hash(prev_hash, canonical) != row.hash:
            return count, ChainBreak(row.seq, "was changed or inserted (its hash does not "
                                     "match its content)")
        prev_hash, expected_seq = row.hash, expected_seq + 1
    return count, None
