"""``policies/dashboard.yaml``: the dashboard's limits, validated once when the app is built."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from engine.policy_files import load_policy_model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionLimits(_Frozen):
    """How long a sign-in lasts and how many are held."""

    idle_seconds: float = Field(gt=0, le=86_400 * 30)
    max_age_seconds: float = Field(gt=0, le=86_400 * 90)
    max_per_user: PositiveInt
    max_total: PositiveInt
    max_token_length: int = Field(ge=16, le=4096)


class DashboardPolicy(_Frozen):
    """Every limit of the pages at ``/ui``."""

    session: SessionLimits
    page_size: int = Field(ge=1, le=1000)
    max_programs_searched: int = Field(ge=1, le=100_000)
    jobs_refresh_seconds: float = Field(gt=0, le=3600)
    interim_shown: int = Field(ge=0, le=100_000)
    value_chars_shown: int = Field(ge=16, le=1_000_000)
    logs_chars_shown: int = Field(ge=0, le=10_000_000)
    result_chars_shown: int = Field(ge=0, le=10_000_000)
    max_json_field_chars: int = Field(ge=2, le=10_000_000)
    overview_minutes: int = Field(ge=1, le=7 * 24 * 60)


def load_dashboard_policy() -> DashboardPolicy:
    """Read and validate ``policies/dashboard.yaml``; :class:`PolicyError` names each bad key."""
    return load_policy_model("dashboard", DashboardPolicy)
