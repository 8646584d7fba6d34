"""``policies/accounts.yaml``: how long a bearer token may live.

:meth:`AccountPolicy.expiry` turns a requested lifetime (seconds, or ``None`` for the
default) into the token's expiry time, refusing one that is not a positive number of seconds
within ``max_token_lifetime_seconds``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.policy_files import load_policy_model

#: A hundred years: the bound on any lifetime, so an expiry is always a valid date.
_CENTURY = 100 * 365 * 24 * 3600


class AccountPolicy(BaseModel):
    """The account policy (see ``policies/accounts.yaml`` for each key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_token_lifetime_seconds: int = Field(default=315_360_000, ge=1, le=_CENTURY)
    default_token_lifetime_seconds: int | None = Field(default=None, ge=1, le=_CENTURY)

    @model_validator(mode="after")
    def _default_within_max(self) -> AccountPolicy:
        default = self.default_token_lifetime_seconds
        if default is not None and default > self.max_token_lifetime_seconds:
            raise ValueError("default_token_lifetime_seconds must not exceed "
                             "max_token_lifetime_seconds")
        return self

    def expiry(self, expires_in: float | None, now: datetime) -> datetime | None:
        """When a token issued at ``now`` for ``expires_in`` seconds expires (``None``: the
        policy's default lifetime; ``None`` back: never). :class:`ValueError` naming
        ``expires_in`` and the rule otherwise."""
        if expires_in is None:
            expires_in = self.default_token_lifetime_seconds
            if expires_in is None:
                return None
        if (isinstance(expires_in, bool) or not isinstance(expires_in, (int, float))
                or not math.isfinite(expires_in)
                or not 1 <= expires_in <= self.max_token_lifetime_seconds):
            raise ValueError(
                f"expires_in must be a number of seconds from 1 to "
                f"{self.max_token_lifetime_seconds} (max_token_lifetime_seconds in "
                f"policies/accounts.yaml), got {str(expires_in)[:40]}")
        return now + timedelta(seconds=expires_in)


def load_account_policy() -> AccountPolicy:
    """The account policy from ``policies/accounts.yaml``."""
    return load_policy_model("accounts", AccountPolicy)
