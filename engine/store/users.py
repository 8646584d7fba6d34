"""Queries on the daemon's users and their bearer tokens.

A token is never stored: only its SHA-256 hash (64 hex characters) is, and a request is
authenticated by looking that hash up (a primary-key lookup, so comparing is the
database's equality on a value an attacker cannot choose) among the tokens neither revoked
nor expired. A token is named by its id, the first :data:`TOKEN_ID_LENGTH` hex digits of
that hash. Revoking marks tokens revoked; the user row stays, because their programs and
jobs keep naming them. Deleting a user deletes their programs and jobs with them, so a
later user of the same name inherits nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, insert, literal, or_, select, update

from engine.errors import DuplicateUser, TokenNotFound, UserNotFound
from engine.records import ACTIVE_STATUSES, TokenRecord, UserRecord
from engine.store.models import TOKEN_ID_LENGTH, ApiToken, Job, Program, User
from engine.store.repository import Repository, check_aware, check_page, utcnow

_USERS = cast(Table, User.__table__)
_TOKENS = cast(Table, ApiToken.__table__)
_PROGRAMS = cast(Table, Program.__table__)
_JOBS = cast(Table, Job.__table__)
_ACTIVE_JOBS = [status.value for status in ACTIVE_STATUSES]

#: What a user name may look like: it becomes the ``owner`` of programs and jobs.
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")
#: What a token id looks like (see :data:`TOKEN_ID_LENGTH`).
TOKEN_ID_PATTERN = re.compile(rf"[0-9a-f]{{{TOKEN_ID_LENGTH}}}")


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


def token_id_of(token_hash: str) -> str:
    """The id of the token whose SHA-256 is ``token_hash``."""
    return token_hash[:TOKEN_ID_LENGTH]


@dataclass(frozen=True, slots=True)
class Holdings:
    """What a user owns: their programs' ids, how many jobs, and which of those have not
    ended."""

    programs: list[str]
    jobs: int
    unfinished_jobs: list[str]

    @property
    def empty(self) -> bool:
        return not self.programs and not self.jobs


class UserRepository(Repository):
    """Users and token hashes in one transaction (see :class:`Database`)."""

    def create(self, name: str, *, is_admin: bool = False, is_reviewer: bool = False
               ) -> UserRecord:
        """Add a user; :class:`ValueError` if the name is invalid or taken."""
        self._require_write("create")
        check_user_name(name)
        if self.get(name) is not None:
            raise DuplicateUser(f"user {name!r} already exists")
        self.session.execute(
            insert(_USERS).values(name=name, is_admin=bool(is_admin),
                                  is_reviewer=bool(is_reviewer), created_at=utcnow())
        )
        user = self.get(name)
        assert user is not None  # written in this same transaction
        return user

    def add_token(self, name: str, token_hash: str, *,
                  expires_at: datetime | None = None) -> TokenRecord:
        """Record a new token (by its hash) for an existing user, valid until ``expires_at``
        (``None``: until revoked). :class:`ValueError` if another token has the same id."""
        self._require_write("add_token")
        _check_hash(token_hash)
        check_aware(expires_at, "expires_at")
        self._require_user(name)
        token_id = token_id_of(token_hash)
        if self.token(token_id) is not None:
            raise ValueError(f"token id {token_id} is taken; mint another token")
        self.session.execute(
            insert(_TOKENS).values(token_hash=token_hash, token_id=token_id, user_name=name,
                                   created_at=utcnow(), expires_at=expires_at)
        )
        token = self.token(token_id)
        assert token is not None  # written in this same transaction
        return token

    def revoke(self, name: str) -> int:
        """Revoke every token of ``name`` not revoked yet; return how many that were."""
        self._require_write("revoke")
        self._require_user(name)
        result = self.session.execute(
            update(_TOKENS)
            .where(_TOKENS.c.user_name == name, _TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def revoke_token(self, name: str, token_id: str) -> tuple[TokenRecord, bool]:
        """Revoke one token of ``name``; return it and whether it was valid until now.

        :class:`TokenNotFound` if ``name`` has no token of that id.
        """
        self._require_write("revoke_token")
        self._require_user(name)
        token = self.token(token_id)
        if token is None or token.user != name:
            raise TokenNotFound(f"user {name!r} has no token {str(token_id)[:80]!r}")
        now = utcnow()
        was_valid = token.state(now) == "valid"
        if token.revoked_at is None:
            self.session.execute(
                update(_TOKENS).where(_TOKENS.c.token_id == token_id).values(revoked_at=now)
            )
        revoked = self.token(token_id)
        assert revoked is not None
        return revoked, was_valid

    def tokens(self, name: str, *, limit: int | None = None, skip: int = 0
               ) -> list[TokenRecord]:
        """The tokens of ``name``, valid or not, newest first (never their secrets)."""
        check_page(limit, skip)
        self._require_user(name)
        query = (_token_select().where(_TOKENS.c.user_name == name)
                 .order_by(_TOKENS.c.created_at.desc(), _TOKENS.c.token_id).offset(skip))
        if limit is not None:
            query = query.limit(limit)
        return [TokenRecord(*row) for row in self.session.execute(query)]

    def token(self, token_id: str) -> TokenRecord | None:
        """One token by its id, or ``None``."""
        if not isinstance(token_id, str) or not TOKEN_ID_PATTERN.fullmatch(token_id):
            return None
        row = self.session.execute(
            _token_select().where(_TOKENS.c.token_id == token_id)).one_or_none()
        return None if row is None else TokenRecord(*row)

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        """The token whose hash this is, valid or not (to say why it was refused)."""
        if not isinstance(token_hash, str) or not _HASH_PATTERN.fullmatch(token_hash):
            return None
        row = self.session.execute(
            _token_select().where(_TOKENS.c.token_hash == token_hash)).one_or_none()
        return None if row is None else TokenRecord(*row)

    def holdings(self, name: str) -> Holdings:
        """What ``name`` owns (see :class:`Holdings`)."""
        self._require_user(name)
        programs = self.session.execute(
            select(_PROGRAMS.c.id).where(_PROGRAMS.c.owner == name).order_by(_PROGRAMS.c.id)
        ).scalars()
        jobs = self.session.execute(
            select(func.count()).select_from(_JOBS).where(_JOBS.c.owner == name)).scalar_one()
        unfinished = self.session.execute(
            select(_JOBS.c.id).where(_JOBS.c.owner == name, _JOBS.c.status.in_(_ACTIVE_JOBS))
            .order_by(_JOBS.c.id)
        ).scalars()
        return Holdings(list(programs), int(jobs), list(unfinished))

    def delete(self, name: str) -> tuple[int, int]:
        """Delete ``name`` with their tokens, programs (every version) and jobs (with their
        messages); return how many programs and jobs went. Other users' jobs of those
        programs stay (a job outlives its program)."""
        self._require_write("delete")
        self._require_user(name)
        jobs = self.session.execute(delete(_JOBS).where(_JOBS.c.owner == name))
        programs = self.session.execute(delete(_PROGRAMS).where(_PROGRAMS.c.owner == name))
        self.session.execute(delete(_TOKENS).where(_TOKENS.c.user_name == name))
        self.session.execute(delete(_USERS).where(_USERS.c.name == name))
        return (int(programs.rowcount),  # type: ignore[attr-defined]
                int(jobs.rowcount))  # type: ignore[attr-defined]

    def get(self, name: str) -> UserRecord | None:
        """One user, or ``None``."""
        rows = self._select().where(_USERS.c.name == name)
        row = self.session.execute(rows).one_or_none()
        return None if row is None else UserRecord(*row)

    def list(self, *, limit: int | None = None, skip: int = 0) -> list[UserRecord]:
        """Users by name."""
        check_page(limit, skip)
        query = self._select().order_by(_USERS.c.name).offset(skip)
        if limit is not None:
            query = query.limit(limit)
        return [UserRecord(*row) for row in self.session.execute(query)]

    def by_token_hash(self, token_hash: str) -> UserRecord | None:
        """The user whose valid (unrevoked, unexpired) token has this hash, or ``None``."""
        if not isinstance(token_hash, str) or not _HASH_PATTERN.fullmatch(token_hash):
            return None
        row = self.session.execute(
            select(_USERS.c.name, _USERS.c.is_admin, _USERS.c.created_at, literal(0),
                   _USERS.c.is_reviewer)
            .join(_TOKENS, _TOKENS.c.user_name == _USERS.c.name)
            .where(_TOKENS.c.token_hash == token_hash, _TOKENS.c.revoked_at.is_(None),
                   _unexpired(utcnow()))
        ).one_or_none()
        return None if row is None else UserRecord(*row)

    def _require_user(self, name: str) -> None:
        if not isinstance(name, str) or self.get(name) is None:
            raise UserNotFound(f"user {str(name)[:80]!r} does not exist")

    @staticmethod
    def _select() -> Select[Any]:
        active = (
            select(func.count())
            .select_from(_TOKENS)
            .where(_TOKENS.c.user_name == _USERS.c.name, _TOKENS.c.revoked_at.is_(None),
                   _unexpired(utcnow()))
            .scalar_subquery()
        )
        return select(_USERS.c.name, _USERS.c.is_admin, _USERS.c.created_at, active,
                      _USERS.c.is_reviewer)


def _unexpired(now: datetime) -> Any:
    return or_(_TOKENS.c.expires_at.is_(None), _TOKENS.c.expires_at > now)


def _token_select() -> Select[Any]:
    return select(_TOKENS.c.token_id, _TOKENS.c.user_name, _TOKENS.c.created_at,
                  _TOKENS.c.expires_at, _TOKENS.c.revoked_at)
