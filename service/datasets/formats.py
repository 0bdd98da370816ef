"""Rows of an export as NDJSON lines or CSV records."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from service.datasets.schemas import Columns, ExportFormat
from service.ingestion.queries import ExportRow

# A spreadsheet opening the CSV runs a cell starting with one of these as a formula
# (`=HYPERLINK(...)` sends whoever clicks to any site, with other cells in the URL).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ... but a signed number ("-1.5", "+3e-2", a class label "-1") is data, not a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def as_record(row: ExportRow, version: str) -> dict[str, Any]:
    """One row as the NDJSON object: predictions and outcomes as stored (class labels in
    their text form); ``label`` is the outcome (the true value for regression)."""
    return {
        "prediction_id": row.prediction_id,
        "version": version,
        "event_time": _iso(row.event_time),
        "features": row.features,
        "prediction": row.predicted_label if row.predicted_value is None else row.predicted_value,
        "score": row.score,
        "scores": row.scores,
        "attributes": row.attributes,
        "label": row.label if row.value is None else row.value,
        "outcome_time": _iso(row.outcome_time),
    }


def _flat(record: dict[str, Any], columns: Columns) -> list[Any]:
    features, attributes, scores = record["features"], record["attributes"], record["scores"] or {}
    return [
        record["prediction_id"],
        record["version"],
        record["event_time"],
        *(features.get(name) for name in columns.features),
        record["prediction"],
        record["score"],
        *(scores.get(name) for name in columns.classes),
        *(attributes.get(name) for name in columns.attributes),
        record["label"],
        record["outcome_time"],
    ]


def header(fmt: ExportFormat, columns: Columns) -> bytes:
    """What precedes the rows: the CSV header line; nothing for NDJSON."""
    if fmt is ExportFormat.NDJSON:
        return b""
    return _csv_text([columns.header()])


def encode(fmt: ExportFormat, rows: Sequence[ExportRow], versions: dict[int, str], columns: Columns) -> bytes:
    """A page of rows in ``fmt``: NDJSON lines, or CSV records (nulls as empty fields)."""
    records = [as_record(row, versions[row.version_id]) for row in rows]
    if fmt is ExportFormat.NDJSON:
        return b"".join(orjson.dumps(record) + b"\n" for record in records)
    return _csv_text([_flat(record, columns) for record in records])


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'`` (shown as
    text, never evaluated); every other value as it is, numbers included."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_text(lines: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([neutralised(v) for v in line] for line in lines)
    return buffer.getvalue().encode()
