"""Verdicts: every window run stores its label coverage, computed once by one definition.

Label coverage = labelled rows / rows with a prediction (``service.stats.labels.label_coverage``).
Runs stored before this revision get labelled / rows, the value every reader computed then.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("window_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_coverage", sa.Float(), nullable=True))
    op.execute("UPDATE window_runs SET label_coverage = CAST(labelled AS FLOAT) / rows WHERE rows > 0")


def downgrade() -> None:
    with op.batch_alter_table("window_runs", schema=None) as batch_op:
        batch_op.drop_column("label_coverage")
