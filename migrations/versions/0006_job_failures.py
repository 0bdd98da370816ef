"""Failure isolation: failed units of work (``job_failures``) and a retry time per window task.

A unit that raises (one model's aggregation, one window evaluation, one model's alerting) is
recorded with its error and retried with backoff, while every other model's units go on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_failures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("retry_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_job_failures_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failures")),
        sa.UniqueConstraint("job", "model_id", "unit", name="uq_job_failures_unit"),
    )
    op.create_index(op.f("ix_job_failures_model_id"), "job_failures", ["model_id"])
    with op.batch_alter_table("window_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("window_tasks", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
    op.drop_index(op.f("ix_job_failures_model_id"), table_name="job_failures")
    op.drop_table("job_failures")
