"""Token ids and expiry: each token gets a short id and an optional expiry time.

A token's id is the first 12 hex digits of its stored SHA-256, so the tokens already issued
get theirs from the hash they have; none of them expires.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite): both columns are nullable.
    op.add_column("api_tokens", sa.Column("token_id", sa.String(12), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True),
                                          nullable=True))
    op.execute("UPDATE api_tokens SET token_id = substr(token_hash, 1, 12)")
    op.create_index("ix_api_tokens_token_id", "api_tokens", ["token_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_tokens_token_id", table_name="api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("token_id")
