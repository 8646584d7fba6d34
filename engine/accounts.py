"""The daemon's accounts: users and their bearer tokens, kept in the store.

A token is minted from the OS's CSPRNG, shown once, and stored only as its SHA-256 hash; a
request is authenticated by looking that hash up among the tokens neither revoked nor
expired. A token is named by its id (the first 12 hex digits of the hash), which listings,
revocations and the audit log show and which reveals nothing usable of the token. How long a
token may live is ``policies/accounts.yaml``'s.

Deleting a user deletes what they own with them (their programs with every version, their
jobs with their results), in one transaction, and only when asked to (``force``): a user
who owns nothing is simply deleted. Their unfinished jobs are cancelled, and so are other
users' queued jobs of the deleted programs, as :meth:`RuntimeService.delete_program` does.
To cut a user off but keep their records, revoke their tokens instead.

The daemon reaches accounts through its service (:attr:`engine.service.RuntimeService.accounts`,
on the service's own store; an admin's requests through the service's user methods);
``program-engine users`` opens them with :func:`open_accounts`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.audit import CLI, Action, AuditOrigin
from engine.records import TokenRecord, UserRecord

if TYPE_CHECKING:
    from engine.settings import Settings
    from engine.store import Database

TOKEN_BYTES = 32
#: A minted token's length in characters (URL-safe base64 of ``TOKEN_BYTES``).
TOKEN_LENGTH = 43
MAX_TOKEN_LENGTH = 512
# A fresh token whose id another token has (1 in 2**48 per pair) is minted again.
_MINT_ATTEMPTS = 5


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 of ``token``: what the store keeps and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: the secret itself (shown this once; not in ``repr``), its id,
    its user and when it expires (``None``: never)."""

    token: str = field(repr=False)
    token_id: str
    user: str
    expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``users add --json``, ``POST /v1/users``)."""
        return {"user": self.user, "token": self.token, "token_id": self.token_id,
                "expires_at": _iso(self.expires_at)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssuedToken:
        return cls(str(data["token"]), str(data["token_id"]), str(data["user"]),
                   _time(data.get("expires_at")))


@dataclass(frozen=True, slots=True)
class UserDeletion:
    """What deleting a user removed: their programs' ids and how many jobs, and the ids of
    the jobs it cancelled (theirs that had not ended, others' queued on their programs)."""

    user: str
    programs: list[str]
    jobs: int
    cancelled_jobs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "programs": self.programs, "jobs": self.jobs,
                "cancelled_jobs": self.cancelled_jobs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserDeletion:
        return cls(str(data["user"]), [str(p) for p in data["programs"]], int(data["jobs"]),
                   [str(j) for j in data["cancelled_jobs"]])


def user_to_dict(user: UserRecord) -> dict[str, Any]:
    """A user's JSON form (``users list --json``, ``GET /v1/users``)."""
    return {"name": user.name, "is_admin": user.is_admin, "is_reviewer": user.is_reviewer,
            "active_tokens": user.active_tokens, "created_at": user.created_at.isoformat()}


def user_from_dict(data: dict[str, Any]) -> UserRecord:
    return UserRecord(name=str(data["name"]), is_admin=bool(data["is_admin"]),
                      created_at=datetime.fromisoformat(data["created_at"]),
                      active_tokens=int(data["active_tokens"]),
                      is_reviewer=bool(data["is_reviewer"]))


def token_to_dict(token: TokenRecord, now: datetime | None = None) -> dict[str, Any]:
    """A token's JSON form, with its state at ``now`` (never the secret)."""
    return {"token_id": token.token_id, "user": token.user,
            "created_at": token.created_at.isoformat(), "expires_at": _iso(token.expires_at),
            "revoked_at": _iso(token.revoked_at),
            "state": token.state(now or datetime.now(UTC))}


def token_from_dict(data: dict[str, Any]) -> TokenRecord:
    return TokenRecord(token_id=str(data["token_id"]), user=str(data["user"]),
                       created_at=datetime.fromisoformat(data["created_at"]),
                       expires_at=_time(data.get("expires_at")),
                       revoked_at=_time(data.get("revoked_at")))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


class Accounts:
    """Users and tokens on one store. Unknown users raise :class:`UserNotFound`, unknown
    tokens :class:`TokenNotFound`, a taken name :class:`DuplicateUser` and an invalid name
    or lifetime ``ValueError``, each naming it.

    Every change, and every refused authentication, is written to the audit log as done by
    ``actor`` from ``origin``.
    """

    def __init__(self, database: Database, *, actor: str = "operator",
                 origin: AuditOrigin = CLI) -> None:
        self._database = database
        self._actor = actor
        self._origin = origin

    def add(self, name: str, *, is_admin: bool = False, is_reviewer: bool = False,
            expires_in: float | None = None) -> IssuedToken:
        """Add a user; return their first token (the only time it is seen).

        A reviewer may approve or reject uploads (admins are reviewers too). ``expires_in``
        is the token's lifetime in seconds (``None``: the policy's default).
        """
        return self._issue(name, expires_in, create=True, is_admin=is_admin,
                           is_reviewer=is_reviewer)

    def issue_token(self, name: str, *, expires_in: float | None = None) -> IssuedToken:
        """Another token for an existing user; return it (the only time it is seen)."""
        return self._issue(name, expires_in, create=False)

    def revoke(self, name: str) -> int:
        """Revoke every token of ``name``; return how many were not revoked yet."""
        with self._database.write() as tx:
            count = tx.users.revoke(name)
            self._audit(tx, Action.USER_REVOKE, name, {"revoked_tokens": count})
            return count

    def revoke_token(self, name: str, token_id: str) -> TokenRecord:
        """Revoke one token of ``name`` by its id; return it (revoking twice is harmless)."""
        with self._database.write() as tx:
            token, was_valid = tx.users.revoke_token(name, token_id)
            self._audit(tx, Action.TOKEN_REVOKE, name,
                        {"token_id": token.token_id, "was_valid": was_valid})
            return token

    def tokens(self, name: str, *, limit: int | None = None, skip: int = 0
               ) -> list[TokenRecord]:
        """The tokens of ``name``, valid or not, newest first."""
        with self._database.read() as tx:
            return tx.users.tokens(name, limit=limit, skip=skip)

    def delete(self, name: str, *, force: bool = False) -> UserDeletion:
        """Delete a user and their tokens. While they own programs or jobs this raises
        :class:`UserHasRecords` unless ``force``, which deletes those too (see the module
        docstring). The caller stops the cancelled jobs that run in its own process."""
        from engine.errors import UserHasRecords

        with self._database.write() as tx:
            held = tx.users.holdings(name)
            if not held.empty and not force:
                raise UserHasRecords(
                    f"user {name!r} owns {len(held.programs)} program(s) and {held.jobs} "
                    f"job(s): force the deletion to delete them too (--force, force=true), "
                    f"or revoke the user's tokens to keep them")
            cancelled = list(held.unfinished_jobs)  # their rows go: an executor stops them
            for program_id in held.programs:
                cancelled += tx.jobs.cancel_queued(program_id)
            _, jobs = tx.users.delete(name)
            deletion = UserDeletion(name, held.programs, jobs, sorted(set(cancelled)))
            self._audit(tx, Action.USER_DELETE, name, deletion.to_dict())
            return deletion

    def refuse(self, reason: str, origin: AuditOrigin) -> None:
        """Record a refused authentication (``reason``: ``missing`` or ``invalid``)."""
        self._refused(reason, "", {}, origin)

    def refuse_token(self, token: str, origin: AuditOrigin) -> None:
        """Record the refusal of ``token``: ``expired`` or ``revoked`` with the token's id and
        user when it is one of theirs, ``invalid`` otherwise."""
        known = None
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH:
            with self._database.read() as tx:
                known = tx.users.token_by_hash(token_hash(token))
        state = known.state(datetime.now(UTC)) if known is not None else "invalid"
        if known is None or state == "valid":  # valid again by now: say no more than invalid
            self._refused("invalid", "", {}, origin)
            return
        self._refused(state, known.user, {"token_id": known.token_id}, origin)

    def list(self, *, limit: int | None = None, skip: int = 0) -> list[UserRecord]:
        """Users by name, with how many valid tokens they hold."""
        with self._database.read() as tx:
            return tx.users.list(limit=limit, skip=skip)

    def authenticate(self, token: str) -> UserRecord | None:
        """The user a valid (known, unrevoked, unexpired) token belongs to, or ``None``."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        with self._database.read() as tx:
            return tx.users.by_token_hash(token_hash(token))

    def _issue(self, name: str, expires_in: float | None, *, create: bool,
               is_admin: bool = False, is_reviewer: bool = False) -> IssuedToken:
        from engine.account_policy import load_account_policy

        expires_at = load_account_policy().expiry(expires_in, datetime.now(UTC))
        with self._database.write() as tx:
            if create:
                tx.users.create(name, is_admin=is_admin, is_reviewer=is_reviewer)
                self._audit(tx, Action.USER_ADD, name,
                            {"is_admin": bool(is_admin), "is_reviewer": bool(is_reviewer)})
            for attempt in range(_MINT_ATTEMPTS):
                token = new_token()
                try:
                    record = tx.users.add_token(name, token_hash(token), expires_at=expires_at)
                    break
                except ValueError:  # its id is taken (nothing was written)
                    if attempt == _MINT_ATTEMPTS - 1:
                        raise
            self._audit(tx, Action.USER_TOKEN, name,
                        {"token_id": record.token_id, "expires_at": _iso(expires_at)})
        return IssuedToken(token, record.token_id, name, expires_at)

    def _refused(self, reason: str, obj: str, details: dict[str, Any],
                 origin: AuditOrigin) -> None:
        with self._database.write() as tx:
            tx.audit.append(actor="anonymous", action=Action.AUTH_REFUSED, obj=obj,
                            details={"reason": reason, **details}, origin=origin)

    def _audit(self, tx: Any, action: Action, name: str, details: dict[str, Any]) -> None:
        tx.audit.append(actor=self._actor, action=action, obj=name, details=details,
                        origin=self._origin)


@contextmanager
def open_accounts(settings: Settings, *, actor: str = "operator") -> Iterator[Accounts]:
    """The accounts of the store ``settings`` name, for one command; closed afterwards.

    ``actor`` is who the audit log names for the changes (the CLI passes the login name).
    """
    from engine.store import open_database

    database = open_database(settings.database_url, home=settings.home, settings=settings)
    try:
        yield Accounts(database, actor=actor)
    finally:
        database.close()
