"""The service's user and token administration, for admins: the embedded side.

:class:`UserAdministration` is part of :class:`~engine.service.RuntimeService`: each method
checks that the acting user is an admin (:class:`PermissionDenied` otherwise, HTTP 403) and
then does its work through the service's :class:`~engine.accounts.Accounts`, which writes
the audit log. What the methods promise is declared once, in
:class:`~engine.interface.RuntimeServiceInterface`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import PermissionDenied
from engine.interface import RuntimeServiceInterface

if TYPE_CHECKING:
    from engine.accounts import Accounts, IssuedToken, UserDeletion
    from engine.records import TokenRecord, UserRecord


class UserAdministration(RuntimeServiceInterface):
    """Users and tokens, managed by an admin (mixed into ``RuntimeService``)."""

    is_admin: bool
    accounts: Any
    _core: Any

    def users(self, limit: int | None = 100, skip: int = 0) -> list[UserRecord]:
        return self._admin("list users").list(limit=limit, skip=skip)

    def add_user(self, name: str, is_admin: bool = False, is_reviewer: bool = False,
                 expires_in: float | None = None) -> IssuedToken:
        return self._admin("add users").add(name, is_admin=is_admin, is_reviewer=is_reviewer,
                                            expires_in=expires_in)

    def delete_user(self, name: str, force: bool = False) -> UserDeletion:
        deletion = self._admin("delete users").delete(name, force=bool(force))
        executor = self._core.executor
        for job_id in deletion.cancelled_jobs:
            if executor is not None:
                executor.cancel(job_id)  # a no-op for a job this process does not run
            self._core.events.notify(job_id)
        return deletion

    def user_tokens(self, name: str, limit: int | None = 100, skip: int = 0
                    ) -> list[TokenRecord]:
        return self._admin("list tokens").tokens(name, limit=limit, skip=skip)

    def issue_token(self, name: str, expires_in: float | None = None) -> IssuedToken:
        return self._admin("issue tokens").issue_token(name, expires_in=expires_in)

    def revoke_token(self, name: str, token_id: str) -> TokenRecord:
        return self._admin("revoke tokens").revoke_token(name, token_id)

    def revoke_tokens(self, name: str) -> int:
        return self._admin("revoke tokens").revoke(name)

    def _admin(self, what: str) -> Accounts:
        if not self.is_admin:
            raise PermissionDenied(f"only an admin may {what}")
        return self.accounts  # type: ignore[no-any-return]
