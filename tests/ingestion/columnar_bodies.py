"""Flat tables of the factories' records, as Parquet or Arrow IPC stream bodies."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON record with its features and attributes as top-level columns, and its ISO
    timestamp as an aware datetime."""
    row = {k: v for k, v in record.items() if k not in ("features", "attributes")}
    row.update(record.get("features", {}))
    row.update(record.get("attributes") or {})
    if isinstance(row.get("timestamp"), str):
        row["timestamp"] = datetime.fromisoformat(row["timestamp"])
    return row


def table_of(records: list[dict[str, Any]]) -> pa.Table:
    rows = [flat(r) for r in records]
    names = list(dict.fromkeys(name for row in rows for name in row))  # every row's columns
    table = pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows])
    if "timestamp" in table.column_names and pa.types.is_timestamp(table.schema.field("timestamp").type):
        at = table.column_names.index("timestamp")
        times = pa.array([r["timestamp"] for r in rows], pa.timestamp("us", tz="UTC"))
        table = table.set_column(at, "timestamp", times)
    return table


def encode(table: pa.Table, content_type: str) -> bytes:
    sink = io.BytesIO()
    if content_type == PARQUET:
        pq.write_table(table, sink)
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()


def body(records: list[dict[str, Any]], content_type: str) -> bytes:
    return encode(table_of(records), content_type)
