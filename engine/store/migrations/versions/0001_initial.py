"""The first schema: programs, program_versions, program_files, jobs, job_messages.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(128)
NAME = sa.String(200)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("is_public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
    )
    op.create_index(op.f("ix_programs_created_at"), "programs", ["created_at"])
    op.create_index(op.f("ix_programs_owner_created_at"), "programs", ["owner", "created_at"])

    op.create_table(
        "program_versions",
        sa.Column("program_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("source_hash", ID, nullable=False),
        sa.Column("entry", NAME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_program_versions_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", "version", name=op.f("pk_program_versions")),
    )

    op.create_table(
        "program_files",
        sa.Column("program_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id", "version"],
            ["program_versions.program_id", "program_versions.version"],
            name=op.f("fk_program_files_program_id_version_program_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", "version", "path", name=op.f("pk_program_files")),
    )

    op.create_table(
        "jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("program_id", ID, nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", NAME, nullable=True),
        sa.Column("backend", NAME, nullable=False),
        sa.Column("profile", NAME, nullable=True),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error_type", NAME, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("logs", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("metrics", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("claimed_by", NAME, nullable=True),
        sa.Column("heartbeat_at", TIME, nullable=True),
        sa.Column("message_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "status IN ('QUEUED', 'RUNNING', 'DONE', 'ERROR', 'CANCELLED')",
            name=op.f("ck_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_status_created_at"), "jobs", ["status", "created_at"])
    op.create_index(op.f("ix_jobs_owner_created_at"), "jobs", ["owner", "created_at"])
    op.create_index(op.f("ix_jobs_program_id_created_at"), "jobs", ["program_id", "created_at"])

    op.create_table(
        "job_messages",
        sa.Column("job_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_messages_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_job_messages")),
    )


def downgrade() -> None:
    op.drop_table("job_messages")
    op.drop_index(op.f("ix_jobs_program_id_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_owner_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_status_created_at"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("program_files")
    op.drop_table("program_versions")
    op.drop_index(op.f("ix_programs_owner_created_at"), table_name="programs")
    op.drop_index(op.f("ix_programs_created_at"), table_name="programs")
    op.drop_table("programs")
