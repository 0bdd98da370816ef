"""Idempotent inserts into the event tables, partitioned or not.

SQLite, and any unpartitioned table: ``dialect.insert_new_rows`` (the unique key decides).
Postgres: the key of every row goes to the unpartitioned key table (``prediction_keys``,
``outcome_keys``: storage/event_tables.py) in the same savepoint as the row, key first. A fresh
batch costs one COPY per table; if a key exists already (a resend) the key table's primary key
refuses the COPY, the savepoint is rolled back and the rows go through a staging table: the
keys that are new are inserted and only their rows follow. A row whose time has no partition
yet (no worker has run since the clock passed the partitions made ahead) makes Postgres refuse
the insert with a check violation: the missing partitions are created in the same transaction
(storage/partitions.py) and the insert is tried once more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import psycopg
import sqlalchemy.exc
from sqlalchemy import Table, delete, insert, tuple_
from sqlalchemy.orm import Session

from service.storage.copy_text import Memo
from service.storage.dialect import (
    COPY_THRESHOLD,
    copy_rows,
    insert_new_returning,
    insert_new_rows,
    stage_rows,
)
from service.storage.event_tables import Outcome, OutcomeKey, Prediction, PredictionKey
from service.storage.partitions import (
    KEY_TABLES,
    PARTITION_KEYS,
    create_partitions,
    is_partitioned,
    partition_days,
)
from service.storage.rows import insert_columns

_KEY_TABLES = {
    "predictions": cast(Table, PredictionKey.__table__),
    "outcomes": cast(Table, OutcomeKey.__table__),
}


class MissingPartition(Exception):
    """A row's time has no partition of the table."""


def insert_new_events(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    """Insert the ``rows`` whose ``key`` is new; the ``returning`` column of those inserted.
    The rows' keys are distinct (ingestion dedupes a batch before it gets here)."""
    if table.name not in KEY_TABLES or not is_partitioned(session):
        return insert_new_rows(session, table, rows, key, returning)
    try:
        return _keyed(session, table, rows, key, returning)
    except MissingPartition:
        times = [row[PARTITION_KEYS[table.name]] for row in rows]
        create_partitions(session.connection(), table.name, min(times), max(times), partition_days(session))
        return _keyed(session, table, rows, key, returning)


def _keyed(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    if len(rows) < COPY_THRESHOLD:
        return _by_insert(session, table, rows, key, returning)
    try:
        return _by_copy(session, table, rows, key, returning)
    # The raw driver cursor bypasses SQLAlchemy's exception wrapping: a lost connection must
    # reach the 503 handler as SQLAlchemy's OperationalError, like on every other path.
    except psycopg.OperationalError as error:
        raise sqlalchemy.exc.OperationalError("COPY", None, error) from error
    except psycopg.InterfaceError as error:
        raise sqlalchemy.exc.InterfaceError("COPY", None, error) from error


def _no_partition(error: BaseException) -> bool:
    return isinstance(error, psycopg.errors.CheckViolation) and "no partition" in str(error)


def _key_columns(table: Table, key: Sequence[str]) -> list[str]:
    return [*key, PARTITION_KEYS[table.name]]


def _by_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    """A few rows: ``INSERT … ON CONFLICT DO NOTHING RETURNING`` into the key table, then the
    rows whose key was new (cheaper than two COPY streams below ``COPY_THRESHOLD`` rows)."""
    columns = _key_columns(table, key)
    try:
        with session.begin_nested():
            keys = [{column: row[column] for column in columns} for row in rows]
            new = set(insert_new_returning(session, _KEY_TABLES[table.name], keys, key, returning))
            fresh = [row for row in rows if row[returning] in new]
            if fresh:
                session.execute(insert(table), fresh)
    except sqlalchemy.exc.IntegrityError as error:
        if _no_partition(error.orig or error):
            raise MissingPartition(table.name) from error
        raise
    return [row[returning] for row in fresh]


def _by_copy(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    columns = list(insert_columns(table))
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("SAVEPOINT modelmon_keyed")
        try:
            try:
                memo: Memo = {}
                copy_rows(cursor, KEY_TABLES[table.name], _key_columns(table, key), rows, memo)
                copy_rows(cursor, table.name, columns, rows, memo)
                inserted = [row[returning] for row in rows]
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT modelmon_keyed")
                inserted = _staged(cursor, table, columns, rows, key, returning)
        except psycopg.errors.CheckViolation as error:
            cursor.execute("ROLLBACK TO SAVEPOINT modelmon_keyed")
            cursor.execute("RELEASE SAVEPOINT modelmon_keyed")
            if _no_partition(error):
                raise MissingPartition(table.name) from error
            raise
        cursor.execute("RELEASE SAVEPOINT modelmon_keyed")
        return inserted


def _staged(
    cursor: psycopg.Cursor[Any],
    table: Table,
    columns: list[str],
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    returning: str,
) -> list[Any]:
    """Some keys exist: the rows go to a staging table (a temporary table of the connection,
    emptied at commit), the new keys are inserted and only their rows follow, in one statement."""
    column_list = ", ".join(columns)
    key_list = ", ".join(key)
    key_columns = ", ".join(_key_columns(table, key))
    staging = stage_rows(cursor, table, columns, rows)
    cursor.execute(
        f"WITH new AS (INSERT INTO {KEY_TABLES[table.name]} ({key_columns}) "
        f"SELECT {key_columns} FROM {staging} ON CONFLICT ({key_list}) DO NOTHING "
        f"RETURNING {key_list}) "
        f"INSERT INTO {table.name} ({column_list}) SELECT {', '.join('s.' + c for c in columns)} "
        f"FROM {staging} s JOIN new USING ({key_list}) RETURNING {returning}"
    )
    return [row[0] for row in cursor.fetchall()]


def delete_keys(
    session: Session, entity: type[Prediction] | type[Outcome], pairs: Sequence[tuple[int, str]]
) -> None:
    """Postgres: delete the key rows ``(model_id, prediction_id)`` of deleted ``entity`` rows, so
    that a resend after erasure or retention is stored again, as on SQLite. SQLite: nothing."""
    if not pairs or not is_partitioned(session):
        return
    keys = _KEY_TABLES[entity.__tablename__]
    session.execute(delete(keys).where(tuple_(keys.c.model_id, keys.c.prediction_id).in_(pairs)))
