"""A pass's predictions read in slices, the next slice while the fold profiles the current one.

On Postgres a pass spends most of its time waiting for the database to take each row's
fields out of its JSONB documents (``storage/columnar.py``), and the rest profiling and
storing in Python: one after the other, each core idles half the time. Here the slices of the
pass are read one ahead, on a connection of their own in a reader thread (psycopg waits on
the socket and pyarrow parses the CSV with the GIL released), while the pass's own
connection profiles the slice before and stores it. The reader's connection runs its
statements in READ COMMITTED, as the pass's transaction does: every row it reads has an id
at or below the committed high water, so it sees the rows the pass's own connection would.
SQLite has one connection per file worth using: its slices are read in the pass's
transaction as they are needed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from service.aggregation import repository
from service.aggregation.frames import EventColumns
from service.registry.service import VersionSpec
from service.storage.columnar import copy_out, parse_csv
from service.storage.dialect import is_postgres, plan_each_execution_on


@contextmanager
def slices_read_ahead(
    session: Session, queries: Sequence[Select[Any]], specs: Iterable[VersionSpec], *, readers: int = 1
) -> Iterator[Iterator[EventColumns]]:
    """The columns of each event query in order. On Postgres the first ``readers`` are being
    read (each on a connection of its own) as soon as this is entered, so the caller can run
    another statement meanwhile, and each next one while the caller works on those before."""
    specs = list(specs)
    engine = session.get_bind()
    if len(queries) < 2 or not is_postgres(session) or not isinstance(engine, Engine):
        yield (repository.read_events(session, query, specs) for query in queries)
        return
    statements = repository.event_reads(session, queries, specs)
    readers = min(readers, len(statements), _idle_connections(engine))
    if readers < 1:
        yield (repository.read_events(session, query, specs) for query in queries)
        return
    with ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(readers, thread_name_prefix="fold-read"))
        connections = [stack.enter_context(engine.connect()) for _ in range(readers)]
        for connection in connections:
            plan_each_execution_on(connection)  # as the pass's own reads: no JIT, no parallel workers
        drivers = [connection.connection.driver_connection for connection in connections]

        def read(index: int) -> EventColumns:
            # Slice i and i + readers are never read at once (see _in_order): one connection each.
            text, params, typed = statements[index]
            return EventColumns(parse_csv(copy_out(drivers[index % readers], text, params), typed))

        pending = deque(pool.submit(read, index) for index in range(readers))
        yield _in_order(pool, pending, read, len(statements))


def _in_order(
    pool: ThreadPoolExecutor,
    pending: deque[Future[EventColumns]],
    read: Callable[[int], EventColumns],
    count: int,
) -> Iterator[EventColumns]:
    """Each slice's columns once read; slice i + readers is submitted when slice i is handed out."""
    following = len(pending)
    while pending:
        current = pending.popleft().result()
        if following < count:
            pending.append(pool.submit(read, following))
            following += 1
        yield current


def _idle_connections(engine: Engine) -> int:
    """Connections the pool holds beyond those checked out: readers take only those, so a fold
    inside a request (``fold_now``) never waits for the pool that its own request holds."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return 1
    return max(0, pool.size() - pool.checkedout())
