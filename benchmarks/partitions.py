"""Benchmark of the partitioned event tables on Postgres: a day's retention by dropping its
partition against ``DELETE`` from the old unpartitioned table, and 1,000-row ingestion batches
into each, in one run.

Loads ``--rows`` predictions spread evenly over ``--days`` days (the rows of
benchmarks/evaluate.py: 15 numeric + 5 categorical features, sex and age band) by COPY into
both the partitioned ``predictions`` (one partition a day, keys in ``prediction_keys``) and
``predictions_plain``, a table of the shape before migration 0010 (primary key on ``id``,
unique ``(model_id, prediction_id)``, the model-time and subject indexes), in the same
database. Then:

- ingestion: ``--batches`` batches of 1,000 new predictions dated in the last day, each its own
  transaction, alternately through ``ingestion.repository.insert_new`` (the partitioned table
  and its key table: two COPY streams) and ``storage.dialect.insert_new_rows`` into the plain
  table (one COPY, as before 0010); median and mean per batch;
- retention of the oldest day: ``privacy.service.retention_pass`` as the worker runs it (the
  day's partition: its key rows deleted, joined outcomes deleted — none are loaded —, detached
  and dropped), against one ``DELETE … WHERE event_time < cutoff`` on the plain table (a lower
  bound for the old path, which deleted in batches of 5,000 and left the dead rows to vacuum:
  the VACUUM that follows is timed apart);
- the second day's drop split into its parts: deleting the key rows, DETACH + DROP, then the
  VACUUM of the key table;
- ``SELECT max(id)`` on each table: what the global id reads still in the code cost once
  ``id`` has no index of its own (``(model_id, id)`` instead).

    python -m benchmarks.partitions --rows 500k        # quick: ~1 min
    python -m benchmarks.partitions                    # 10M rows over 10 days

Progress goes to stderr, the table to stdout. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import MetaData, Table

from benchmarks.common import parse_size, postgres_database, progress
from benchmarks.evaluate import CHUNK_ROWS, LEVELS, NUMERIC, PREDICTION_COLUMNS, make_chunk, prediction_text
from service.config import Settings
from service.ingestion.repository import PREDICTIONS, insert_new
from service.privacy.service import retention_pass
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.dialect import insert_new_rows
from service.storage.event_tables import EVENT_KEY, Prediction
from service.storage.partitions import create_partitions

BATCH = 1_000
RETENTION_DAYS = 90
_PLAIN_INDEXES = (
    "ALTER TABLE predictions_plain ADD CONSTRAINT pk_predictions_plain PRIMARY KEY (id)",
    "ALTER TABLE predictions_plain ADD CONSTRAINT uq_predictions_plain UNIQUE (model_id, prediction_id)",
    "CREATE INDEX ix_plain_model_time ON predictions_plain (model_id, event_time)",
    "CREATE INDEX ix_plain_subject ON predictions_plain (subject_id) WHERE subject_id IS NOT NULL",
)


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def load(url: str, rows: int, start: datetime, days: int) -> float:
    """COPY ``rows`` predictions over ``days`` days into both tables; seconds taken."""
    began = time.perf_counter()
    span_us = days * 86_400 * 1_000_000
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE predictions_plain (LIKE predictions INCLUDING DEFAULTS)")
        for first in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - first)
            offsets = (np.arange(first, first + n, dtype=np.int64) * span_us) // rows
            times = np.datetime64(start.replace(tzinfo=None), "us") + offsets.astype("timedelta64[us]")
            chunk = make_chunk(first, n, seed=first + 1, times=times, drift_from=np.datetime64("NaT"))
            body = prediction_text(chunk, 1, 1)
            for table in ("predictions", "predictions_plain"):
                with (
                    conn.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({PREDICTION_COLUMNS}) FROM STDIN") as copy,
                ):
                    copy.write(body)
            progress(f"loaded {first + n:,} of {rows:,} rows into both tables")
        conn.execute(
            "INSERT INTO prediction_keys SELECT model_id, prediction_id, event_time FROM predictions"
        )
        for statement in _PLAIN_INDEXES:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE predictions_plain")
        conn.execute("VACUUM ANALYZE prediction_keys")
        for name in _partition_names(conn):
            conn.execute(f"VACUUM ANALYZE {name}")
    return time.perf_counter() - began


def _partition_names(conn: psycopg.Connection[Any]) -> list[str]:
    query = (
        "SELECT inhrelid::regclass::text FROM pg_inherits "
        "WHERE inhparent = 'predictions'::regclass ORDER BY 1"
    )
    return [str(row[0]) for row in conn.execute(query).fetchall()]


def batch_rows(index: int, at: datetime) -> list[dict[str, Any]]:
    """1,000 new predictions in the stored form of ``prediction_row``, dated from ``at``."""
    chunk = make_chunk(0, BATCH, seed=10_000 + index, times=None, drift_from=np.datetime64("NaT"))
    rows = []
    for i in range(BATCH):
        features: dict[str, Any] = {n: _number(chunk.numeric[n][i]) for n in NUMERIC}
        features.update({n: str(chunk.categorical[n][i]) for n in LEVELS})
        rows.append({
            "model_id": 1, "version_id": 1, "prediction_id": f"new-{index}-{i}",
            "event_time": at + timedelta(seconds=i), "received_at": at, "features": features,
            "predicted_label": str(chunk.predicted[i]), "predicted_value": None,
            "score": float(chunk.scores[i]), "scores": None,
            "attributes": {"sex": str(chunk.sex[i]), "age_band": str(chunk.age_band[i])},
            "attributions": None, "subject_id": None, "content_hash": i.to_bytes(16, "big"),
        })  # fmt: skip
    return rows


def _number(value: float) -> float | None:
    return None if value != value else float(value)


def ingest(url: str, batches: int, at: datetime) -> dict[str, list[float]]:
    """Seconds per 1,000-row batch into each table, alternating (each batch its transaction)."""
    engine = create_database_engine(Settings(database_url=url, run_jobs=False))
    sessions = create_session_factory(engine)
    plain = Table("predictions_plain", MetaData(), *(c._copy() for c in PREDICTIONS.columns))
    writers: dict[str, Callable[[Any, list[dict[str, Any]]], object]] = {
        "partitioned + key table (insert_new)": lambda s, rows: insert_new(s, Prediction, rows),
        "unpartitioned, unique key (before 0010)": lambda s, rows: insert_new_rows(
            s, plain, rows, EVENT_KEY, "prediction_id"
        ),
    }
    seconds: dict[str, list[float]] = {name: [] for name in writers}
    try:
        for index in range(batches):
            rows = batch_rows(index, at)
            order = list(writers) if index % 2 == 0 else list(reversed(writers))
            for name in order:
                began = time.perf_counter()
                with unit_of_work(sessions) as session:
                    writers[name](session, rows)
                seconds[name].append(time.perf_counter() - began)
    finally:
        engine.dispose()
    return seconds


def retention(url: str, start: datetime) -> dict[str, float]:
    """Seconds: the oldest day by the worker's retention pass (partition drop) and by DELETE."""
    cutoff = start + timedelta(days=1)
    now = cutoff + timedelta(days=RETENTION_DAYS)
    engine = create_database_engine(Settings(database_url=url, run_jobs=False))
    sessions = create_session_factory(engine)
    timings: dict[str, float] = {}
    try:
        began = time.perf_counter()
        with unit_of_work(sessions) as session:
            done = retention_pass(session, now, RETENTION_DAYS, 5_000)
        timings["drop"] = time.perf_counter() - began
        timings["dropped rows"] = done.predictions
    finally:
        engine.dispose()
    with psycopg.connect(_conninfo(url)) as conn:
        began = time.perf_counter()
        deleted = conn.execute("DELETE FROM predictions_plain WHERE event_time < %s", (cutoff,)).rowcount
        conn.commit()
        timings["delete"] = time.perf_counter() - began
        timings["deleted rows"] = deleted
        conn.autocommit = True
        began = time.perf_counter()
        conn.execute("VACUUM predictions_plain")
        timings["vacuum"] = time.perf_counter() - began
    return timings


def drop_parts(url: str, start: datetime) -> dict[str, float]:
    """The second day's partition dropped by hand, timing its key rows' deletion and DETACH + DROP."""
    name = f"predictions_p{start + timedelta(days=1):%Y%m%d}"
    timings: dict[str, float] = {}
    with psycopg.connect(_conninfo(url)) as conn:
        began = time.perf_counter()
        conn.execute(
            "DELETE FROM prediction_keys WHERE event_time >= %s AND event_time < %s",
            (start + timedelta(days=1), start + timedelta(days=2)),
        )
        conn.commit()
        timings["keys"] = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute(f"ALTER TABLE predictions DETACH PARTITION {name}")
        conn.execute(f"DROP TABLE {name}")
        conn.commit()
        timings["detach + drop"] = time.perf_counter() - began
        conn.autocommit = True
        began = time.perf_counter()
        conn.execute("VACUUM prediction_keys")  # the dead key rows of both days
        timings["key vacuum"] = time.perf_counter() - began
        for table in ("predictions", "predictions_plain"):  # what a global max(id) costs each
            began = time.perf_counter()
            conn.execute(f"SELECT max(id) FROM {table}")
            timings[f"max(id) {table}"] = time.perf_counter() - began
    return timings


def _ms(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:8.1f} ms median, {statistics.fmean(values) * 1000:8.1f} ms mean"
    )


def report(rows: int, days: int, loaded: float, ingestion: dict[str, list[float]], kept: dict[str, float],
           parts: dict[str, float]) -> None:  # fmt: skip
    print(f"\npartitioned event tables: {rows:,} predictions over {days} days, one partition a day")
    print(f"load (COPY into both tables, keys, indexes, VACUUM ANALYZE): {loaded:.0f} s\n")
    print(f"ingestion, {BATCH:,}-row batches, {len(next(iter(ingestion.values())))} each, alternating")
    for name, values in ingestion.items():
        rate = BATCH / statistics.median(values)
        print(f"  {name:42s} {_ms(values)}  ({rate:,.0f} rows/s at the median)")
    print(f"\nretention of the oldest day ({int(kept['deleted rows']):,} rows)")
    dropped = int(kept["dropped rows"])
    print(f"  {'partition drop (retention_pass)':42s} {kept['drop']:8.2f} s  ({dropped:,} rows)")
    print(f"  {'DELETE on the unpartitioned table':42s} {kept['delete']:8.2f} s")
    print(f"  {'  then VACUUM of it':42s} {kept['vacuum']:8.2f} s")
    print(
        f"  second day's drop: key rows {parts['keys']:.2f} s, DETACH + DROP {parts['detach + drop']:.3f} s"
    )
    print(f"  then VACUUM of prediction_keys (both days' dead keys): {parts['key vacuum']:.2f} s")
    print("\nSELECT max(id) (aggregation's committed_high_water; no index on id alone when partitioned)")
    for table in ("predictions", "predictions_plain"):
        print(f"  {table:42s} {parts[f'max(id) {table}'] * 1000:8.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=parse_size("10M"))
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--batches", type=int, default=100)
    options = parser.parse_args(argv)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=options.days)
    with postgres_database() as url:
        engine = create_database_engine(Settings(database_url=url, run_jobs=False))
        with engine.begin() as connection:  # exactly the loaded days (0010 made a week ahead)
            create_partitions(connection, "predictions", start, end - timedelta(microseconds=1), 1)
        engine.dispose()
        progress(f"loading {options.rows:,} rows")
        loaded = load(url, options.rows, start, options.days)
        progress("ingesting batches")
        ingestion = ingest(url, options.batches, end - timedelta(hours=12))
        progress("retention")
        kept = retention(url, start)
        parts = drop_parts(url, start)
        report(options.rows, options.days, loaded, ingestion, kept, parts)


if __name__ == "__main__":
    main()
