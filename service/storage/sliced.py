"""One columnar read split into slices read at once, on Postgres on separate connections
that share one snapshot.

Postgres extracts a row's JSON fields in the backend that runs the statement: one backend
per query, so a 1M-row cold window spent ~80% of its time in one single-threaded COPY. Each
slice (a query over a disjoint part of the rows) runs on its own pooled connection in its
own thread (psycopg waits on the socket and pyarrow parses CSV with the GIL released), and
every slice sees the database as the request's transaction does: that transaction exports
its snapshot (``pg_export_snapshot()``) and each slice's transaction imports it
(``REPEATABLE READ``, ``SET TRANSACTION SNAPSHOT``), so rows committed while the slices run
never appear in one slice and not in another. The slices are concatenated in the order
given, whichever finishes first. SQLite has one connection per file worth using: its
slices are read one after another in the request's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine, Select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from service.storage.columnar import (
    Columns,
    CopyPlan,
    Field,
    Kind,
    copy_out,
    copy_statement,
    parse_csv,
    read_columns,
)
from service.storage.dialect import is_postgres

T = TypeVar("T")
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")  # e.g. 00000003-0000001B-1


def slice_count(session: Session, wanted: int) -> int:
    """How many slices to read with: on Postgres ``wanted``, at most the pool connections not
    checked out (each slice holds one beside the request's own, so requests beyond the pool
    read once on their own connection instead of waiting for the pool); 1 on SQLite."""
    if not is_postgres(session):
        return 1
    bind = session.get_bind()
    pool = bind.pool if isinstance(bind, Engine) else None
    if not isinstance(pool, QueuePool):
        return wanted
    return max(1, min(wanted, pool.size() - pool.checkedout()))


def spare_readers(session: Session, wanted: int) -> int:
    """Connections a reader thread may take beside the session's own: 0 on SQLite (one
    connection per file is worth using), else at most the pool's idle connections, so a read
    inside a request never waits for the pool its own request holds."""
    bind = session.get_bind()
    if not is_postgres(session) or not isinstance(bind, Engine):
        return 0
    pool = bind.pool
    if not isinstance(pool, QueuePool):
        return min(wanted, 1)
    return max(0, min(wanted, pool.size() - pool.checkedout()))


def read_sliced(
    session: Session, queries: Sequence[Select[Any]], kinds: Sequence[Kind], fields: Sequence[Field]
) -> Columns:
    """``read_columns`` of each query, concatenated in the order of ``queries``: on Postgres
    each on its own connection and thread, all in the snapshot of ``session``'s transaction."""
    return concatenated(map_sliced(session, queries, kinds, fields, each=_same))


def _same(columns: Columns) -> Columns:
    return columns


def map_sliced(
    session: Session,
    queries: Sequence[Select[Any]],
    kinds: Sequence[Kind],
    fields: Sequence[Field],
    *,
    each: Callable[[Columns], T],
) -> list[T]:
    """``each`` of every query's columns, in the order of ``queries``. On Postgres each query
    is read and handed to ``each`` on its own connection and thread, all in the snapshot of
    ``session``'s transaction: what ``each`` does with one slice (numpy, mostly without the
    GIL) overlaps the other slices' reads and work."""
    if len(queries) == 1 or not is_postgres(session):
        return [each(read_columns(session, query, kinds, fields)) for query in queries]
    snapshot = str(session.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    statements = [copy_statement(session, query, kinds, fields) for query in queries]
    with ThreadPoolExecutor(max_workers=len(statements), thread_name_prefix="slice") as pool:
        return list(pool.map(lambda s: each(_read_slice(engine, snapshot, *s)), statements))


# A slice's hash join holds every outcome of the model (~54 bytes each); with the default
# 4 MB (× hash_mem_multiplier 2) 500,000 outcomes went to disk in 4 batches and cost ~0.5 s
# more CPU per 10^6 predictions. 32 MB keeps ~1.2M outcomes in memory, per slice.
SLICE_WORK_MEM = "32MB"


def _read_slice(engine: Engine, snapshot: str, statement: str, params: Any, plan: CopyPlan) -> Columns:
    """One slice, read in a read-only transaction that imports ``snapshot`` (it must be the
    transaction's first statement: the isolation level is set with its BEGIN)."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        connection.exec_driver_sql(f"SET LOCAL work_mem = '{SLICE_WORK_MEM}'")
        buffer = copy_out(connection.connection.driver_connection, statement, params)
        connection.rollback()
    return parse_csv(buffer, plan)


def concatenated(parts: Sequence[Columns]) -> Columns:
    """The columns of ``parts`` one after another (a part's rows in their order)."""
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
