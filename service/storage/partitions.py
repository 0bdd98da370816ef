"""Time partitions of the event tables on Postgres: which exist, creating the missing ones,
and dropping those wholly past retention. SQLite has no partitions (callers ask ``is_postgres``
through the functions here that say so).

Partitions lie on a grid of ``days``-long slots counted from the Unix epoch in UTC, so every
worker and request computes the same bounds: slot k is [epoch + k·days, epoch + (k+1)·days).
A partition is named after its first day, ``<table>_pYYYYMMDD``. When the span setting
changes, new slots are clipped against the partitions that exist, so bounds never overlap.

A partition is created as a plain table (``LIKE`` the parent) and then attached: ``ATTACH
PARTITION`` takes only a SHARE UPDATE EXCLUSIVE lock on the parent, which ingestion's ROW
EXCLUSIVE does not conflict with, where ``CREATE TABLE … PARTITION OF`` would take ACCESS
EXCLUSIVE and wait for every open ingestion transaction. Attaching builds the parent's
indexes on the empty table (milliseconds).

Only a table's owner may attach or detach its partitions, and production runs ``serve`` and
``worker`` as a service role that owns nothing (storage/roles.py). So the DDL runs in two
SECURITY DEFINER functions owned by the migrating owner (``PARTITION_FUNCTIONS``, created by
migration 0010), which accept only the event tables and partition names of the form above;
the service role is granted EXECUTE on them and nothing more.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, Select, func, select, text
from sqlalchemy.orm import Session

from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import Model

# The partitioned tables and their partition key columns.
PARTITION_KEYS = {"predictions": "event_time", "outcomes": "received_at"}
# The unpartitioned idempotency key table of each (event_tables.py).
KEY_TABLES = {"predictions": "prediction_keys", "outcomes": "outcome_keys"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One advisory lock serialises partition creation and dropping across processes ("mmpt").
_MAINTENANCE_LOCK = 0x6D6D7074
# DDL waits at most this long for a lock, so it never queues ingestion behind it for long;
# a timed-out maintenance run is retried at the next poll (60 s).
DDL_LOCK_TIMEOUT = "5s"
# Partitions are kept this far ahead of now (plus the allowed clock skew): a week of worker
# outage before ingestion has to create one on demand.
DAYS_AHEAD = 7
_BOUND = re.compile(r"'([^']+)'")

# The owner's DDL, callable by the service role (see the module's docstring). ``SET search_path
# FROM CURRENT`` pins the schema the migration ran in, so a caller cannot redirect the names.
_CHECK = """
  IF parent NOT IN ('predictions', 'outcomes') OR name !~ ('^' || parent || '_p[0-9]{8}$') THEN
    RAISE EXCEPTION 'not a partition of an event table: % of %', name, parent;
  END IF;"""
PARTITION_FUNCTIONS = {
    "modelmon_create_partition(text, text, timestamptz, timestamptz)": f"""
CREATE OR REPLACE FUNCTION modelmon_create_partition(
  parent text, name text, low timestamptz, high timestamptz
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN{_CHECK}
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, low, high);
END $$""",
    "modelmon_drop_partition(text, text)": f"""
CREATE OR REPLACE FUNCTION modelmon_drop_partition(parent text, name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN{_CHECK}
  EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, name);
  EXECUTE format('DROP TABLE %I', name);
END $$""",
}

# The span of each engine's partitions (``MODELMON_PARTITION_DAYS``), set where the engine is
# built from the settings; 1 day for an engine built elsewhere.
_SPANS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC


def set_partition_days(engine: Engine, days: int) -> None:
    _SPANS[engine] = days


def partition_days(session: Session) -> int:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return _SPANS.get(engine, 1)


def is_partitioned(session: Session) -> bool:
    """Whether the event tables of this database are partitioned (Postgres)."""
    return session.get_bind().dialect.name == "postgresql"


def slots(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """The grid slots of ``days`` days that cover [start, end] (both inclusive)."""
    span = timedelta(days=days)
    first = _EPOCH + span * ((start - _EPOCH) // span)
    covering = []
    while first <= end:
        covering.append((first, first + span))
        first += span
    return covering


def uncovered(
    wanted: list[tuple[datetime, datetime]], existing: list[Partition]
) -> list[tuple[datetime, datetime]]:
    """The parts of the ``wanted`` ranges that no ``existing`` partition covers."""
    pieces = []
    ordered = sorted(existing, key=lambda p: p.start)
    for start, end in wanted:
        at = start
        for partition in ordered:
            if partition.end <= at or partition.start >= end:
                continue
            if partition.start > at:
                pieces.append((at, partition.start))
            at = max(at, partition.end)
        if at < end:
            pieces.append((at, end))
    return pieces


_LIST = text(
    """
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(:parent)
    ORDER BY c.relname
    """
)


def partitions(connection: Connection, table: str) -> list[Partition]:
    """The partitions of ``table`` with their bounds, oldest first. The bounds are printed in
    the session's time zone: UTC for the rest of this transaction."""
    connection.execute(text("SET LOCAL TimeZone = 'UTC'"))
    found = []
    for name, bound in connection.execute(_LIST, {"parent": table}):
        start, end = (datetime.fromisoformat(value) for value in _BOUND.findall(bound))
        found.append(Partition(name, start, end))
    return sorted(found, key=lambda p: p.start)


def _lock(connection: Connection) -> None:
    connection.execute(text(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'"))
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MAINTENANCE_LOCK})


def create_partitions(
    connection: Connection, table: str, start: datetime, end: datetime, days: int
) -> list[str]:
    """Create the partitions of ``table`` that [start, end] needs and that do not exist, in
    the caller's transaction; the names created. Serialised across processes by an advisory
    lock held to the end of the transaction."""
    _lock(connection)
    created = []
    for low, high in uncovered(slots(start, end, days), partitions(connection, table)):
        # Not strftime's %Y: glibc writes year 1 as "1", not "0001".
        name = f"{table}_p{low.year:04d}{low.month:02d}{low.day:02d}"
        connection.execute(
            text("SELECT modelmon_create_partition(:parent, :name, :low, :high)"),
            {"parent": table, "name": name, "low": low, "high": high},
        )
        created.append(name)
    # Back to the session's lock_timeout: an ingestion request goes on in this transaction.
    connection.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return created


def ensure_partitions(session: Session, start: datetime, end: datetime, days: int) -> list[str]:
    """Postgres: create the missing partitions of both event tables for [start, end]; the names
    created. SQLite: nothing."""
    if not is_partitioned(session):
        return []
    connection = session.connection()
    return [
        name for table in PARTITION_KEYS for name in create_partitions(connection, table, start, end, days)
    ]


def expired_partition(session: Session, table: str, cutoff: datetime) -> Partition | None:
    """Postgres: the oldest partition of ``table`` that ends at or before ``cutoff`` (every row
    in it is past retention); None on SQLite or when there is none."""
    if not is_partitioned(session):
        return None
    connection = session.connection()
    oldest = next(iter(partitions(connection, table)), None)
    if oldest is None or oldest.end > cutoff:
        return None
    _lock(connection)  # then look again: another worker may have dropped it meanwhile
    oldest = next(iter(partitions(connection, table)), None)
    return oldest if oldest is not None and oldest.end <= cutoff else None


def drop_partition(session: Session, table: str, partition: Partition) -> tuple[int, int]:
    """Delete the key rows of ``partition``'s events, and for a predictions partition the
    outcomes joined to them (with their keys); then DETACH and DROP it. Returns (rows of the
    partition, outcomes deleted beside it). The caller holds the maintenance lock
    (``expired_partition``)."""
    connection = session.connection()
    # The partition's rows read through the parent (pruned to it by the bounds): the service
    # role may read the parent, not the partitions the owner's function created.
    rows_of = f"{table} p WHERE p.{PARTITION_KEYS[table]} >= :start AND p.{PARTITION_KEYS[table]} < :end"
    bounds = {"start": partition.start, "end": partition.end}
    joined = 0
    if table == "predictions":
        joined = connection.execute(
            text(
                f"WITH gone AS (DELETE FROM outcomes o USING {rows_of} AND o.model_id = p.model_id "
                "AND o.prediction_id = p.prediction_id RETURNING o.model_id, o.prediction_id), "
                "k AS (DELETE FROM outcome_keys k USING gone g WHERE k.model_id = g.model_id "
                "AND k.prediction_id = g.prediction_id) SELECT count(*) FROM gone"
            ),
            bounds,
        ).scalar_one()
    rows = connection.execute(text(f"SELECT count(*) FROM {rows_of}"), bounds).scalar_one()
    # The keys by their own copy of the partition key: one scan of the narrow key table
    # instead of a join with the partition's rows (at 10M keys, 1M of them the day's: ~9 s by
    # the join, benchmarks/partitions.py).
    time = PARTITION_KEYS[table]
    connection.execute(
        text(f"DELETE FROM {KEY_TABLES[table]} WHERE {time} >= :start AND {time} < :end"), bounds
    )
    connection.execute(
        text("SELECT modelmon_drop_partition(:parent, :name)"), {"parent": table, "name": partition.name}
    )
    return int(rows), int(joined)


def newest_id(entity: type[Prediction] | type[Outcome]) -> Select[int]:
    """``max(id)`` of an event table (0 when empty), as the largest of each model's
    ``max(id)``: one backward probe of the ``(model_id, id)`` index per model and partition.
    A plain ``max(id)`` has no index on ``id`` alone to read on Postgres and scans every
    partition: 1.2 s at 10M predictions (benchmarks/partitions.py), under the SHARE lock
    that holds ingestion back while aggregation reads its high water."""
    per_model = select(func.max(entity.id)).where(entity.model_id == Model.id).scalar_subquery()
    return select(func.coalesce(func.max(per_model), 0)).select_from(Model)
