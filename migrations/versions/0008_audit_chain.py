"""Audit chain: every audit row carries SHA-256(previous row's hash ‖ canonical row).

Rows written before this revision are chained in id order here; the append-only triggers are
lifted for that one UPDATE and restored in the same transaction (Postgres runs DDL in it; on
SQLite the triggers are dropped and created again).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The chain's definition is the service's own: a second copy here could drift from it, and
# then every row chained by this migration would fail `modelmon audit verify`.
from service.audit.chain import ChainedRow, link
from service.storage.types import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUDIT = sa.table(
    "audit_events",
    sa.column("id", sa.BigInteger()),
    sa.column("at", UtcDateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("actor_name", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target_type", sa.String()),
    sa.column("target", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("chain_hash", sa.String()),
)
_SQLITE_TRIGGERS = {
    operation: f"""
    CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: {operation} refused'); END
    """
    for operation in ("UPDATE", "DELETE")
}


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
    _chain_existing_rows()
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        op.execute(_SQLITE_TRIGGERS["UPDATE"])


def _chain_existing_rows() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_AUDIT).order_by(_AUDIT.c.id)).mappings().all()
    previous: str | None = None
    for row in rows:
        previous = link(previous, ChainedRow(**{**row, "chain_hash": None}))
        connection.execute(_AUDIT.update().where(_AUDIT.c.id == row["id"]).values(chain_hash=previous))


def downgrade() -> None:
    # Both databases drop a column in place (SQLite since 3.35), keeping the table's triggers.
    op.execute("ALTER TABLE audit_events DROP COLUMN chain_hash")
