"""The service's user and token administration over HTTP (``/v1/users``, admins only).

:class:`RemoteUserAdministration` is part of :class:`~engine.client.RemoteRuntimeService`,
as :class:`~engine.user_admin.UserAdministration` is of the embedded service; what each
method promises is declared in :class:`~engine.interface.RuntimeServiceInterface`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.accounts import (
    IssuedToken,
    UserDeletion,
    token_from_dict,
    user_from_dict,
)
from engine.client.wire import _segment
from engine.interface import RuntimeServiceInterface

if TYPE_CHECKING:
    from engine.records import TokenRecord, UserRecord


class RemoteUserAdministration(RuntimeServiceInterface):
    """Users and tokens on a daemon, for an admin's token (mixed into the remote service)."""

    _request: Any

    def users(self, limit: int | None = 100, skip: int = 0) -> list[UserRecord]:
        items = self._pages("/v1/users", "users", skip, limit)
        return [user_from_dict(item) for item in items]

    def add_user(self, name: str, is_admin: bool = False, is_reviewer: bool = False,
                 expires_in: float | None = None) -> IssuedToken:
        body = {"name": name, "is_admin": bool(is_admin), "is_reviewer": bool(is_reviewer),
                "expires_in": expires_in}
        return IssuedToken.from_dict(self._request("POST", "/v1/users", json=body).json())

    def delete_user(self, name: str, force: bool = False) -> UserDeletion:
        response = self._request("DELETE", _user_path(name),
                                 params={"force": "true" if force else "false"})
        return UserDeletion.from_dict(response.json())

    def user_tokens(self, name: str, limit: int | None = 100, skip: int = 0
                    ) -> list[TokenRecord]:
        items = self._pages(_user_path(name) + "/tokens", "tokens", skip, limit)
        return [token_from_dict(item) for item in items]

    def issue_token(self, name: str, expires_in: float | None = None) -> IssuedToken:
        response = self._request("POST", _user_path(name) + "/tokens",
                                 json={"expires_in": expires_in})
        return IssuedToken.from_dict(response.json())

    def revoke_token(self, name: str, token_id: str) -> TokenRecord:
        path = f"{_user_path(name)}/tokens/{_segment(token_id)}"
        return token_from_dict(self._request("DELETE", path).json())

    def revoke_tokens(self, name: str) -> int:
        response = self._request("DELETE", _user_path(name) + "/tokens")
        return int(response.json()["revoked_tokens"])

    def _pages(self, path: str, key: str, skip: int, limit: int | None
               ) -> list[dict[str, Any]]:
        from engine.client.remote_service import _paged

        return _paged(self._request, path, key, {"skip": skip}, limit)


def _user_path(name: str) -> str:
    return f"/v1/users/{_segment(name)}"
