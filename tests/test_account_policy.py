"""``policies/accounts.yaml``: token lifetimes, their bound and their default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.account_policy import AccountPolicy, load_account_policy
from engine.errors import PolicyError
from engine.policy_files import validate_policy

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_the_shipped_policy_bounds_lifetimes_to_ten_years_without_a_default() -> None:
    policy = load_account_policy()
    assert policy.max_token_lifetime_seconds == 10 * 365 * 24 * 3600
    assert policy.expiry(None, NOW) is None
    assert policy.expiry(30 * 86400, NOW) == NOW + timedelta(days=30)


@pytest.mark.parametrize("lifetime", [0, 0.5, -5, float("nan"), float("inf"), True, "30d",
                                      10 * 365 * 24 * 3600 + 1])
def test_a_lifetime_out_of_bounds_is_refused_naming_the_rule(lifetime: object) -> None:
    with pytest.raises(ValueError, match=r"expires_in must be a number of seconds from 1 to "
                                         r"315360000 \(max_token_lifetime_seconds"):
        load_account_policy().expiry(lifetime, NOW)  # type: ignore[arg-type]


def test_a_default_lifetime_applies_to_tokens_issued_without_one() -> None:
    policy = AccountPolicy(max_token_lifetime_seconds=3600, default_token_lifetime_seconds=60)
    assert policy.expiry(None, NOW) == NOW + timedelta(seconds=60)
    with pytest.raises(ValueError, match="from 1 to 3600"):
        policy.expiry(7200, NOW)


def test_a_default_above_the_bound_is_refused() -> None:
    with pytest.raises(PolicyError, match="default_token_lifetime_seconds must not exceed"):
        validate_policy(AccountPolicy, {"max_token_lifetime_seconds": 60,
                                        "default_token_lifetime_seconds": 61}, "accounts.yaml")
    with pytest.raises(PolicyError, match="max_token_lifetime"):
        validate_policy(AccountPolicy, {"max_token_lifetim_seconds": 60}, "accounts.yaml")
