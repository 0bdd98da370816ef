"""Aggregation cursors: a watermark pair per model instead of one for every model.

Every existing model starts from the one global watermark row (``aggregation_state``), so an
upgrade neither folds an event again nor skips one; that row is then dropped. A model
registered later gets its cursor from its first pass (watermarks 0). The ``(model_id, id)``
indexes serve a model's pass, which reads ``model_id = m AND id > watermark AND id <= high``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.storage.types import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("prediction_watermark", "outcome_watermark", "generation", "updated_at", "folded_through")


def upgrade() -> None:
    op.create_table(
        "aggregation_cursors",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("prediction_watermark", sa.BigInteger(), nullable=False),
        sa.Column("outcome_watermark", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("folded_through", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_aggregation_cursors_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_aggregation_cursors")),
    )
    columns = ", ".join(_COLUMNS)
    op.execute(
        f"INSERT INTO aggregation_cursors (model_id, {columns}) "
        f"SELECT m.id, {', '.join('s.' + c for c in _COLUMNS)} FROM models m "
        "CROSS JOIN aggregation_state s WHERE s.stream = 'events'"
    )
    op.drop_table("aggregation_state")
    op.create_index("ix_predictions_model_id", "predictions", ["model_id", "id"], unique=False)
    op.create_index("ix_outcomes_model_id", "outcomes", ["model_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outcomes_model_id", table_name="outcomes")
    op.drop_index("ix_predictions_model_id", table_name="predictions")
    op.create_table(
        "aggregation_state",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("prediction_watermark", sa.BigInteger(), nullable=False),
        sa.Column("outcome_watermark", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("folded_through", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_aggregation_state")),
    )
    # One row for every model: the slowest cursor, so nothing is skipped; events of models
    # ahead of it are folded again, so downgrade only with the workers caught up (a caught-up
    # sweep leaves every cursor at the same high water).
    op.execute(
        "INSERT INTO aggregation_state (stream, prediction_watermark, outcome_watermark, generation,"
        " updated_at, folded_through) SELECT 'events', min(prediction_watermark), min(outcome_watermark),"
        " max(generation), max(updated_at), min(folded_through) FROM aggregation_cursors HAVING count(*) > 0"
    )
    op.drop_table("aggregation_cursors")
