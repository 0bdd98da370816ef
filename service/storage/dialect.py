"""The few statements whose SQL differs between SQLite and Postgres."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import psycopg
import sqlalchemy.exc
from sqlalchemy import BigInteger, Connection, String, Table, any_, bindparam, cast, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.storage.copy_text import Memo, encoded_piece, pieces
from service.storage.rows import insert_columns

# Below this many rows a multi-row INSERT is cheaper than creating the COPY stream; above
# it COPY wins (1,000 rows: ~40 ms by INSERT, of which ~30 ms is psycopg parsing the
# 15,000 placeholders, against ~8 ms by COPY on this 2-core machine).
COPY_THRESHOLD = 50

# Ids per IN (...) look-up on SQLite: under its 32,766 bound-parameter limit, and small enough
# to plan as an index scan.
LOOKUP_CHUNK = 2_000


def _insert_ignoring(dialect: str, table: Any, key: list[str]) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=key)


def insert_or_update(session: Session, table: Any, key: list[str], columns: list[str], where: Any) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET column = excluded.column … WHERE where``."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    return statement.on_conflict_do_update(
        index_elements=key, set_={c: statement.excluded[c] for c in columns}, where=where
    )


def insert_ignoring_duplicates(session: Session, table: Any, key: list[str]) -> Any:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` for the session's database."""
    return _insert_ignoring(session.get_bind().dialect.name, table, key)


@functools.cache
def _insert_returning(dialect: str, table: Table, key: tuple[str, ...], returning: str) -> Any:
    statement = _insert_ignoring(dialect, table, list(key))
    return statement.returning(table.c[returning])


def insert_new_returning(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING returning``: the ``returning`` column
    of the rows inserted.

    The statement is built once per database, table, key and column: constructing it per
    request cost ~0.3 ms of the ~3 ms a one-prediction request took.
    """
    statement = _insert_returning(session.get_bind().dialect.name, table, key, returning)
    return list(session.execute(statement, rows).scalars().all())


def insert_new_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[Any]:
    """Insert the ``rows`` whose ``key`` is new; the ``returning`` column of those inserted.
    By COPY on Postgres from ``COPY_THRESHOLD`` rows (``copy_insert_ignoring_duplicates``),
    else by ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (``insert_new_returning``)."""
    if is_postgres(session) and len(rows) >= COPY_THRESHOLD:
        return copy_insert_ignoring_duplicates(session, table, rows, key, returning)
    return insert_new_returning(session, table, rows, key, returning)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def serialise_transactions(session: Session, key: int) -> None:
    """Make transactions that call this with the same ``key`` run one after another.

    Postgres: a transaction-scoped advisory lock (``pg_advisory_xact_lock``), so a second caller
    waits for the first one's commit or rollback. SQLite: nothing to do, it has one writer at a
    time already (the session begins ``IMMEDIATE``).
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def as_stored_json(session: Session, *documents: Any) -> tuple[Any, ...]:
    """``documents`` as the database will read them back from a JSON column.

    Postgres' ``jsonb`` normalises numbers (``-0.0`` is stored as ``0``, ``1.50`` as ``1.5``), so a
    hash over what was written would not verify against what is read: one round trip through
    ``CAST(… AS jsonb)`` gives the stored form. SQLite keeps the text as written.
    """
    if not is_postgres(session):
        return documents
    casts = ", ".join(f"CAST(:d{i} AS jsonb)" for i in range(len(documents)))
    params = {f"d{i}": orjson.dumps(document).decode() for i, document in enumerate(documents)}
    return tuple(session.execute(text(f"SELECT {casts}"), params).one())


def wait_for_writers(session: Session, tables: Sequence[str], lock_timeout: str) -> None:
    """Wait until every transaction writing ``tables`` has ended; new writers wait for this
    transaction. Postgres: ``LOCK … IN SHARE MODE`` under ``lock_timeout`` (then the statement
    fails rather than wait behind a stuck writer). SQLite commits one writer at a time, so what
    it shows is committed already: nothing to do."""
    if is_postgres(session):
        session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        session.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE"))


def local_lock_timeout(session: Session, lock_timeout: str | None) -> None:
    """Postgres: a statement of this transaction that waits longer than ``lock_timeout`` for a
    lock fails (``OperationalError``) instead of waiting on; None restores the server's
    setting. SQLite waits for its one writer lock by the connection's busy timeout already."""
    if is_postgres(session):
        value = "DEFAULT" if lock_timeout is None else f"'{lock_timeout}'"
        session.execute(text(f"SET LOCAL lock_timeout TO {value}"))


def lock_timed_out(error: sqlalchemy.exc.OperationalError) -> bool:
    """The statement failed because it waited longer than its ``lock_timeout`` (Postgres
    SQLSTATE 55P03), not because the database is gone."""
    return isinstance(error.orig, psycopg.errors.LockNotAvailable)


def plan_each_execution(session: Session) -> None:
    """Postgres: plan every statement of this transaction for its own parameters, without JIT
    or parallel workers. psycopg prepares a statement after 5 runs and Postgres then tends to a
    generic plan: for aggregation's id-range reads that plan hashed every outcome below the
    watermark on each pass (2.3 s a pass at 10M predictions against 0.96 s with custom plans);
    JIT cost ~77 ms a pass and parallel workers only contend on a small machine (0.96 → 0.79 s).
    SQLite plans every execution already."""
    if is_postgres(session):
        for statement in _PLAN_EACH_EXECUTION:
            session.execute(text(statement))


_PLAN_EACH_EXECUTION = (
    "SET LOCAL plan_cache_mode = force_custom_plan",
    "SET LOCAL jit = off",
    "SET LOCAL max_parallel_workers_per_gather = 0",
)


def plan_each_execution_on(connection: Connection) -> None:
    """``plan_each_execution`` for the transaction of a Postgres connection of its own (one
    that reads beside a session's transaction, ``aggregation/prefetch.py``)."""
    for statement in _PLAN_EACH_EXECUTION:
        connection.execute(text(statement))


def epoch_seconds(session: Session, column: Any) -> Any:
    """``column`` (a UTC timestamp) as whole seconds since the Unix epoch, computed by the
    database. SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; the fraction is cut off, not
    rounded, as ``floor`` does on Postgres."""
    if is_postgres(session):
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)


def prepared_by_ids(base: Any, column: Any) -> dict[str, Any]:
    """``base`` filtered on ``column`` being one of the ``ids`` parameter, per database: one
    array parameter on Postgres (psycopg parses no per-id placeholder), an expanding IN list
    on SQLite. Build it once at import: ingestion counts joins on every request."""
    return {
        "postgresql": base.where(column == any_(bindparam("ids", type_=postgresql.ARRAY(String)))),
        "sqlite": base.where(column.in_(bindparam("ids", expanding=True))),
    }


def execute_by_ids(
    session: Session, prepared: Mapping[str, Any], params: Mapping[str, Any], ids: Sequence[str]
) -> Iterator[Any]:
    """Run a ``prepared_by_ids`` statement over ``ids``: at once on Postgres, in chunks of
    ``LOOKUP_CHUNK`` on SQLite; one result per execution."""
    dialect = session.get_bind().dialect.name
    statement = prepared[dialect]
    pieces = [ids] if dialect == "postgresql" else chunks(ids)
    for chunk in pieces:
        yield session.execute(statement, {**params, "ids": list(chunk)})


def chunks(ids: Sequence[str], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[str]]:
    """``ids`` in slices of ``size``: the IN lists SQLite accepts."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _copy_value(value: Any) -> Any:
    # COPY's text format takes JSON documents as text; everything else psycopg adapts.
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value


def copy_insert_ignoring_duplicates(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str], returning: str
) -> list[Any]:
    """Postgres: insert the ``rows`` whose ``key`` is new, by COPY; returns their ``returning`` column.

    First try: COPY straight into the table inside a savepoint — the common case, new ids,
    costs one COPY. If any key already exists (a resend) the unique index refuses the COPY,
    the savepoint is rolled back, and the rows go through a staging table and
    ``INSERT … SELECT … ON CONFLICT DO NOTHING``, which costs about twice as much. The column
    list is the table's insert columns (``storage/rows.py``); a row missing one is a KeyError.
    """
    columns = list(insert_columns(table))
    driver = session.connection().connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor:
            cursor.execute("SAVEPOINT modelmon_copy")
            try:
                copy_rows(cursor, table.name, columns, rows)
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT modelmon_copy")
                return _staged_insert(cursor, table, columns, rows, key, returning)
            cursor.execute("RELEASE SAVEPOINT modelmon_copy")
            return [row[returning] for row in rows]
    # The raw driver cursor bypasses SQLAlchemy's exception wrapping: a lost connection
    # must reach the 503 handler as SQLAlchemy's OperationalError, like on every other path.
    except psycopg.OperationalError as error:
        raise sqlalchemy.exc.OperationalError("COPY", None, error) from error
    except psycopg.InterfaceError as error:
        raise sqlalchemy.exc.InterfaceError("COPY", None, error) from error


def copy_rows(
    cursor: psycopg.Cursor[Any],
    table: str,
    columns: list[str],
    rows: Sequence[dict[str, Any]],
    memo: Memo | None = None,
) -> None:
    """COPY ``rows`` (dicts) into ``table``'s ``columns`` on the raw driver cursor: as text built
    column by column (``copy_text.py``; ``memo`` shares encoded columns between two COPYs of the
    same rows), or by psycopg's ``write_row`` for a piece holding a value not encoded there."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for at, piece in pieces(rows):
            text = encoded_piece(piece, columns, memo, at)
            if text is not None:
                copy.write(text)
                continue
            for row in piece:
                copy.write_row([_copy_value(row[column]) for column in columns])


def stage_rows(
    cursor: psycopg.Cursor[Any], table: Table, columns: list[str], rows: Sequence[dict[str, Any]]
) -> str:
    """COPY ``rows`` into ``table``'s staging table (created once per connection, emptied at
    every commit: no catalog churn per request); its name."""
    staging = f"staging_{table.name}"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(columns)} FROM {table.name} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {staging}")
    copy_rows(cursor, staging, columns, rows)
    return staging


def _staged_insert(
    cursor: psycopg.Cursor[Any],
    table: Table,
    columns: list[str],
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    returning: str,
) -> list[Any]:
    """The staging table is a temporary table of the connection, created once per connection
    and emptied at every commit, so it costs no catalog churn per request."""
    column_list = ", ".join(columns)
    staging = stage_rows(cursor, table, columns, rows)
    cursor.execute(
        f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {staging} "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {returning}"
    )
    return [row[0] for row in cursor.fetchall()]
