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
from typing import TYPE_CHECKING

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
    or ``LookupError`` naming them."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, name: str, *, is_admin: bool = False) -> str:
        """Add a user; return their first token (the only time it is seen)."""
        return self._issue(name, create=True, is_admin=is_admin)

    def issue_token(self, name: str) -> str:
        """Another token for an existing user; return it (the only time it is seen)."""
        return self._issue(name, create=False)

    def revoke(self, name: str) -> int:
        """Revoke every token of ``name``; return how many were valid."""
        with self._database.write() as tx:
            return tx.users.revoke(name)

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

    def _issue(self, name: str, *, create: bool, is_admin: bool = False) -> str:
        token = new_token()
        with self._database.write() as tx:
            if create:
                tx.users.create(name, is_admin=is_admin)
            tx.users.add_token(name, token_hash(token))
        return token


@contextmanager
def open_accounts(settings: Settings) -> Iterator[Accounts]:
    """The accounts of the store ``settings`` name, for one command; closed afterwards."""
    from engine.store import open_database

    database = open_database(settings.database_url, home=settings.home, settings=settings)
    try:
        yield Accounts(database)
    finally:
        database.close()
