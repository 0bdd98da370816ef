"""Event tables partitioned by time on Postgres; idempotency keys in narrow key tables.

Postgres: ``predictions`` becomes RANGE-partitioned by ``event_time`` and ``outcomes`` by
``received_at`` (storage/event_tables.py says why). The old tables are renamed, the partitioned
ones created ``LIKE`` them (same columns, same ``id`` default on the same sequence, which now
belongs to the new table), partitions created for the stored rows' time range up to a week
ahead, the rows copied in id order with their ids, the key tables filled, the old tables
dropped. The partition DDL runs in two SECURITY DEFINER functions created here
(storage/partitions.py), so a service role that owns no table can run it. The sequence is already past every copied id (the rows took their ids from it); it is
set past the largest id anyway in case rows were written with explicit ids. SQLite: nothing.

Downgrade (Postgres): the rows go back to plain tables with the unique keys, in id order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from service.config import Settings
from service.storage.partitions import PARTITION_FUNCTIONS, create_partitions

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The partition key and the key table of each event table.
_TABLES = {"predictions": ("event_time", "prediction_keys"), "outcomes": ("received_at", "outcome_keys")}
# Partitions made ahead of now here; from then on the workers keep them ahead
# (service/privacy/jobs.py) and ingestion creates any that are missing.
_AHEAD = timedelta(days=7)
_SUBJECT = sa.text("subject_id IS NOT NULL")


def _old_indexes(table: str) -> list[str]:
    """The plain table's indexes that the partitioned one re-creates under the same names."""
    by_time = [f"ix_{table}_model_time", f"ix_{table}_subject"] if table == "predictions" else []
    return [*by_time, f"ix_{table}_model_id"]  # (model_id, id): 0009


def _create_indexes(table: str) -> None:
    if table == "predictions":
        op.create_index("ix_predictions_model_time", table, ["model_id", "event_time"])
        op.create_index("ix_predictions_subject", table, ["subject_id"], postgresql_where=_SUBJECT)
    op.create_index(f"ix_{table}_model_prediction", table, ["model_id", "prediction_id"])
    op.create_index(f"ix_{table}_model_id", table, ["model_id", "id"])


def _create_key_table(table: str) -> None:
    time, keys = _TABLES[table]
    op.create_table(
        keys,
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.String(length=200), nullable=False),
        sa.Column(time, sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "prediction_id", name=f"pk_{keys}"),
    )


def _partition(connection: sa.Connection, table: str, old: str) -> None:
    time, keys = _TABLES[table]
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT uq_{table}_model_prediction")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}")
    for index in _old_indexes(table):
        op.execute(f"DROP INDEX {index}")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({time})")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    _create_indexes(table)
    _create_key_table(table)
    low, high = connection.execute(sa.text(f"SELECT min({time}), max({time}) FROM {old}")).one()
    now = datetime.now(UTC)
    start = now if low is None else min(low, now)
    end = max(high or now, now) + _AHEAD
    create_partitions(connection, table, start, end, Settings().partition_days)
    op.execute(f"INSERT INTO {table} SELECT * FROM {old} ORDER BY id")
    op.execute(f"INSERT INTO {keys} SELECT model_id, prediction_id, {time} FROM {old}")
    op.execute(
        f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {old})) WHERE EXISTS (SELECT 1 FROM {old})"
    )
    op.execute(f"DROP TABLE {old}")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for signature, definition in PARTITION_FUNCTIONS.items():
        op.execute(definition)
        # EXECUTE goes to the service role with its other grants (storage/roles.py).
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for table in _TABLES:
        _partition(connection, table, f"{table}_unpartitioned")


def _unpartition(table: str, old: str) -> None:
    _, keys = _TABLES[table]
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for index in [*_old_indexes(table), f"ix_{table}_model_prediction"]:
        op.execute(f"DROP INDEX {index}")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.create_primary_key(f"pk_{table}", table, ["id"])
    op.create_unique_constraint(f"uq_{table}_model_prediction", table, ["model_id", "prediction_id"])
    if table == "predictions":
        op.create_index("ix_predictions_model_time", table, ["model_id", "event_time"])
        op.create_index("ix_predictions_subject", table, ["subject_id"], postgresql_where=_SUBJECT)
    op.create_index(f"ix_{table}_model_id", table, ["model_id", "id"])
    op.execute(f"INSERT INTO {table} SELECT * FROM {old} ORDER BY id")
    op.execute(f"DROP TABLE {old}")  # its partitions with it
    op.drop_table(keys)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        _unpartition(table, f"{table}_partitioned")
    for signature in PARTITION_FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
