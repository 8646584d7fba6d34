"""The daemon's accounts: users and their bearer tokens, kept in the store.

A token is minted from the OS's CSPRNG, shown once, and stored only as its SHA-256 hash; a
request is authenticated by looking that hash up among the unrevoked tokens. The daemon
reaches accounts through its service (:attr:`engine.service.RuntimeService.accounts`, on the
service's own store); ``program-engine users`` opens them with :func:`open_accounts`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.audit import CLI, Action, AuditOrigin
from engine.records import UserRecord

if TYPE_CHECKING:
    from engine.settings import Settings
    from engine.store import Database

TOKEN_BYTES = 32
#: A minted token's length in characters (URL-safe base64 of ``TOKEN_BYTES``).
TOKEN_LENGTH = 43
MAX_TOKEN_LENGTH = 512


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 of ``token``: what the store keeps and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Users and tokens on one store. Invalid names and unknown users raise ``ValueError``
    or ``LookupError`` naming them.

    Every change, and every refused authentication, is written to the audit log as done by
    ``actor`` from ``origin``.
    """

    def __init__(self, database: Database, *, actor: str = "operator",
                 origin: AuditOrigin = CLI) -> None:
        self._database = database
        self._actor = actor
        self._origin = origin

    def add(self, name: str, *, is_admin: bool = False, is_reviewer: bool = False) -> str:
        """Add a user; return their first token (the only time it is seen).

        A reviewer may approve or reject uploads (admins are reviewers too).
        """
        return self._issue(name, create=True, is_admin=is_admin, is_reviewer=is_reviewer)

    def issue_token(self, name: str) -> str:
        """Another token for an existing user; return it (the only time it is seen)."""
        return self._issue(name, create=False)

    def revoke(self, name: str) -> int:
        """Revoke every token of ``name``; return how many were valid."""
        with self._database.write() as tx:
            count = tx.users.revoke(name)
            self._audit(tx, Action.USER_REVOKE, name, {"revoked_tokens": count})
            return count

    def refuse(self, reason: str, origin: AuditOrigin) -> None:
        """Record a refused authentication (``reason``: ``missing`` or ``invalid``)."""
        with self._database.write() as tx:
            tx.audit.append(actor="anonymous", action=Action.AUTH_REFUSED, obj="",
                            details={"reason": reason}, origin=origin)

    def list(self) -> list[UserRecord]:
        """Every user, with how many valid tokens they hold."""
        with self._database.read() as tx:
            return tx.users.list()

    def authenticate(self, token: str) -> UserRecord | None:
        """The user a valid (known, unrevoked) token belongs to, or ``None``."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        with self._database.read() as tx:
            return tx.users.by_token_hash(token_hash(token))

    def _issue(self, name: str, *, create: bool, is_admin: bool = False,
               is_reviewer: bool = False) -> str:
        token = new_token()
        with self._database.write() as tx:
            if create:
                tx.users.create(name, is_admin=is_admin, is_reviewer=is_reviewer)
                self._audit(tx, Action.USER_ADD, name,
                            {"is_admin": bool(is_admin), "is_reviewer": bool(is_reviewer)})
            tx.users.add_token(name, token_hash(token))
            self._audit(tx, Action.USER_TOKEN, name, {})
        return token

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
