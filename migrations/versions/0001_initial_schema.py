"""Initial schema: models, versions, predictions, outcomes, references.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.storage.types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _big_id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_versions_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "outcomes",
        _big_id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        _time("outcome_time"),
        _time("received_at"),
        sa.Column("content_hash", sa.LargeBinary(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
        sa.UniqueConstraint("model_id", "prediction_id", name="uq_outcomes_model_prediction"),
    )
    op.create_table(
        "predictions",
        _big_id(),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.String(length=200), nullable=False),
        _time("event_time"),
        _time("received_at"),
        sa.Column("features", _json(), nullable=False),
        sa.Column("predicted_label", sa.String(length=200), nullable=True),
        sa.Column("predicted_value", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", _json(), nullable=True),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("attributions", _json(), nullable=True),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("model_id", "prediction_id", name="uq_predictions_model_prediction"),
    )
    op.create_index("ix_predictions_model_time", "predictions", ["model_id", "event_time"])
    op.create_table(
        "references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("replaced_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_references_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_references")),
    )
    op.create_index(op.f("ix_references_version_id"), "references", ["version_id"])
    op.create_table(
        "reference_rows",
        sa.Column("reference_id", sa.Integer(), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("features", _json(), nullable=False),
        sa.Column("predicted_label", sa.String(length=200), nullable=True),
        sa.Column("predicted_value", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", _json(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("attributions", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["references.id"],
            name=op.f("fk_reference_rows_reference_id_references"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reference_id", "row_index", name=op.f("pk_reference_rows")),
    )


def downgrade() -> None:
    op.drop_table("reference_rows")
    op.drop_index(op.f("ix_references_version_id"), table_name="references")
    op.drop_table("references")
    op.drop_index("ix_predictions_model_time", table_name="predictions")
    op.drop_table("predictions")
    op.drop_table("outcomes")
    op.drop_table("model_versions")
    op.drop_table("models")
