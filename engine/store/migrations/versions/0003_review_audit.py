"""Review states of program versions, the reviewer role, and the hash-chained audit log.

Existing versions become ``approved`` (they already ran without review), so an upgraded
store behaves as before until its review policy says otherwise.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = sa.String(200)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite): every new column is nullable or has a
    # default, and the review state's values are checked by the code that writes them.
    for column in (
        sa.Column("review_status", sa.String(16), server_default=sa.text("'approved'"),
                  nullable=False),
        sa.Column("uploader", NAME, nullable=True),
        sa.Column("scan_report", sa.Text(), nullable=True),
        sa.Column("reviewed_by", NAME, nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewed_at", TIME, nullable=True),
    ):
        op.add_column("program_versions", column)
    op.create_index("ix_program_versions_review_status", "program_versions", ["review_status"])
    op.add_column("users", sa.Column("is_reviewer", sa.Boolean(), server_default=sa.false(),
                                     nullable=False))
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(500), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("client", NAME, nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_object", "audit_log", ["object"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_reviewer")
    op.drop_index("ix_program_versions_review_status", table_name="program_versions")
    with op.batch_alter_table("program_versions") as batch:
        for column in ("reviewed_at", "review_comment", "reviewed_by", "scan_report",
                       "uploader", "review_status"):
            batch.drop_column(column)
