"""The numeric features of a prediction packed beside its document (``predictions.numbers``).

Aggregation and cold windows read a prediction's numbers from this column instead of taking
each out of the JSONB document, where Postgres prints every number as text (docs/scaling.md).
The column is nullable and written by ingestion from this revision on; rows stored before it
keep NULL and are read from their document, so the upgrade rewrites nothing: adding a nullable
column without a default is a catalogue change on Postgres (every partition of the
partitioned table at once) and on SQLite.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("numbers", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("numbers")
