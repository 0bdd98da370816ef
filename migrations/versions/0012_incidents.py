"""Incidents: firing alerts of one model that share a cause, grouped (service/alerting/incidents.py);
``alerts.incident_id`` links an alert to the incident it joined.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.storage.types import UtcDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("causes", _JSON, nullable=False),
        sa.Column("window_start", UtcDateTime(timezone=True), nullable=False),
        sa.Column("window_end", UtcDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("quiet_since", UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("notes", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_incidents_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_state_model", "incidents", ["state", "model_id"], unique=False)
    # At most one open incident per (model, cause), whichever worker groups.
    op.create_index(
        "uq_incidents_open_cause",
        "incidents",
        ["model_id", "cause"],
        unique=True,
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_alerts_incident_id", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_incident_id")
        batch_op.drop_column("incident_id")
    op.drop_index("uq_incidents_open_cause", table_name="incidents")
    op.drop_index("ix_incidents_state_model", table_name="incidents")
    op.drop_table("incidents")
