"""Queries on the daemon's users and their bearer tokens.

A token is never stored: only its SHA-256 hash (64 hex characters) is, and a request is
authenticated by looking that hash up (a primary-key lookup, so comparing is the
database's equality on a value an attacker cannot choose). Revoking a user marks every token
of theirs revoked; the user row stays, because their programs and jobs keep naming them.
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, literal, select, update

from engine.records import UserRecord
from engine.store.models import ApiToken, User
from engine.store.repository import Repository, utcnow

_USERS = cast(Table, User.__table__)
_TOKENS = cast(Table, ApiToken.__table__)

#: What a user name may look like: it becomes the ``owner`` of programs and jobs.
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


def check_user_name(name: str) -> None:
    """Refuse a name that cannot be a user name (see :data:`USER_NAME_PATTERN`)."""
    if not isinstance(name, str) or not USER_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"user name {str(name)[:80]!r} is invalid: 1 to 64 characters from "
            "letters, digits and . _ @ -, starting with a letter or digit"
        )


def _check_hash(token_hash: str) -> None:
    if not isinstance(token_hash, str) or not _HASH_PATTERN.fullmatch(token_hash):
        raise ValueError("token_hash must be 64 lower-case hex characters (a SHA-256)")


class UserRepository(Repository):
    """Users and token hashes in one transaction (see :class:`Database`)."""

    def create(self, name: str, *, is_admin: bool = False, is_reviewer: bool = False
               ) -> UserRecord:
        """Add a user; :class:`ValueError` if the name is invalid or taken."""
        self._require_write("create")
        check_user_name(name)
        if self.get(name) is not None:
            raise ValueError(f"user {name!r} already exists")
        self.session.execute(
            insert(_USERS).values(name=name, is_admin=bool(is_admin),
                                  is_reviewer=bool(is_reviewer), created_at=utcnow())
        )
        user = self.get(name)
        assert user is not None  # written in this same transaction
        return user

    def add_token(self, name: str, token_hash: str) -> None:
        """Record a new token (by its hash) for an existing user."""
        self._require_write("add_token")
        _check_hash(token_hash)
        if self.get(name) is None:
            raise LookupError(f"user {name!r} does not exist")
        self.session.execute(
            insert(_TOKENS).values(token_hash=token_hash, user_name=name, created_at=utcnow())
        )

    def revoke(self, name: str) -> int:
        """Revoke every valid token of ``name``; return how many were revoked."""
        self._require_write("revoke")
        if self.get(name) is None:
            raise LookupError(f"user {name!r} does not exist")
        result = self.session.execute(
            update(_TOKENS)
            .where(_TOKENS.c.user_name == name, _TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def get(self, name: str) -> UserRecord | None:
        """One user, or ``None``."""
        rows = self._select().where(_USERS.c.name == name)
        row = self.session.execute(rows).one_or_none()
        return None if row is None else UserRecord(*row)

    def list(self) -> list[UserRecord]:
        """Every user, by name."""
        rows = self.session.execute(self._select().order_by(_USERS.c.name))
        return [UserRecord(*row) for row in rows]

    def by_token_hash(self, token_hash: str) -> UserRecord | None:
        """The user whose valid (unrevoked) token has this hash, or ``None``."""
        if not isinstance(token_hash, str) or not _HASH_PATTERN.fullmatch(token_hash):
            return None
        row = self.session.execute(
            select(_USERS.c.name, _USERS.c.is_admin, _USERS.c.created_at, literal(0),
                   _USERS.c.is_reviewer)
            .join(_TOKENS, _TOKENS.c.user_name == _USERS.c.name)
            .where(_TOKENS.c.token_hash == token_hash, _TOKENS.c.revoked_at.is_(None))
        ).one_or_none()
        return None if row is None else UserRecord(*row)

    @staticmethod
    def _select() -> Select[Any]:
        active = (
            select(func.count())
            .select_from(_TOKENS)
            .where(_TOKENS.c.user_name == _USERS.c.name, _TOKENS.c.revoked_at.is_(None))
            .scalar_subquery()
        )
        return select(_USERS.c.name, _USERS.c.is_admin, _USERS.c.created_at, active,
                      _USERS.c.is_reviewer)
