"""The columnar fast path builds the records the record path builds, value for value and hash
for hash, and leaves every batch with a value to name to the record path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from service.ingestion import columnar, vectorised
from service.ingestion.records import PredictionRecord, prediction_record, validate_all
from service.ingestion.validation import event_times
from service.registry.schemas import FeatureType, Task
from service.registry.service import RegisteredModel, VersionSpec
from tests.factories import CATEGORICAL_FEATURES, NUMERIC_FEATURES, prediction
from tests.ingestion import columnar_bodies
from tests.ingestion.columnar_bodies import table_of

NOW = datetime(2026, 11, 22, tzinfo=UTC)
TIMES = event_times(NOW, skew_seconds=300, horizon_days=90)
FEATURES = dict.fromkeys(NUMERIC_FEATURES, FeatureType.NUMERIC)
FEATURES |= dict.fromkeys(CATEGORICAL_FEATURES, FeatureType.CATEGORICAL)
SPEC = VersionSpec(
    3,
    "v1",
    Task.BINARY,
    FEATURES,
    frozenset({"sex", "age_band"}),
    "1",
    ("0", "1"),
    frozenset({"0", "1"}),
    tuple((n, kind is FeatureType.NUMERIC) for n, kind in FEATURES.items()),
)
MODEL = RegisteredModel(1, "credit", {"v1": SPEC}, SPEC)


def pseudonym(subject: str) -> str:
    return f"pseudonym-of-{subject}"


def record_path(table: pa.Table) -> list[PredictionRecord]:
    records = columnar.prediction_records(table, MODEL)
    return validate_all(records, lambda c, i, r: prediction_record(c, i, r, MODEL, TIMES, pseudonym), 100)


def sent(count: int = 30) -> list[dict[str, Any]]:
    rows = [prediction(i) for i in range(count)]
    rows[1]["features"]["num_04"] = None
    rows[2]["features"]["cat_3"] = None
    rows[3]["attributes"] = {"age_band": "45+"}
    rows[4]["subject_id"] = "alice"
    rows[5]["score"] = None
    rows[6]["version"] = "v1"
    rows[7]["id"] = "ü-non-ascii-ids-are-fine"
    return rows


def test_the_fast_path_builds_the_record_paths_records() -> None:
    table = table_of(sent())
    fast = vectorised.fast_predictions(table, MODEL, TIMES, pseudonym)
    assert fast is not None
    slow = record_path(table)
    assert fast == slow
    assert [r.content_hash() for r in fast] == [r.content_hash() for r in slow]
    # Packed by whole columns against one record at a time, a missing number (row 1) included.
    assert all(r.packed is not None for r in fast) and all(r.packed is None for r in slow)
    assert [r.numbers for r in fast] == [r.numbers for r in slow]
    assert fast[4].subject_id == "pseudonym-of-alice"


def test_integer_ids_categories_and_labels_and_nanosecond_times_are_read_alike() -> None:
    rows = sent(10)
    for i, row in enumerate(rows):
        row["id"] = 500 + i
        row["features"]["cat_0"] = i
        row["features"]["cat_1"] = bool(i % 2)
    table = table_of(rows)
    at = table.column_names.index("timestamp")
    table = table.set_column(
        at, "timestamp", table.column("timestamp").cast(pa.timestamp("ns", tz="Europe/Paris"))
    )
    fast = vectorised.fast_predictions(table, MODEL, TIMES, pseudonym)
    assert fast is not None and fast == record_path(table)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["features"].update(num_00=float("nan")),
        lambda r: r["features"].update(num_00=1e51),
        lambda r: r["features"].update(cat_0="é" * 3),  # non-ASCII: NFC is the record path's
        lambda r: r["features"].update(cat_0="x" * 201),
        lambda r: r.update(prediction=2),
        lambda r: r.update(score=1.5),
        lambda r: r.update(id=""),
        lambda r: r.update(version="v9"),
        lambda r: r.update(timestamp=(NOW + timedelta(days=1)).isoformat()),
        lambda r: r.update(timestamp=(NOW - timedelta(days=91)).isoformat()),
    ],
)
def test_a_batch_with_any_value_to_name_goes_to_the_record_path(change: Any) -> None:
    rows = sent(10)
    change(rows[3])
    assert vectorised.fast_predictions(table_of(rows), MODEL, TIMES, pseudonym) is None


def test_a_missing_feature_column_goes_to_the_record_path() -> None:
    table = table_of(sent(10)).drop_columns(["num_07"])
    assert vectorised.fast_predictions(table, MODEL, TIMES, pseudonym) is None


def test_string_view_columns_read_as_text() -> None:
    table = table_of(sent(10))
    at = table.column_names.index("cat_0")
    viewed = table.set_column(at, "cat_0", table.column("cat_0").cast(pa.string_view()))
    body = columnar_bodies.encode(viewed, columnar_bodies.ARROW_STREAM)
    read = columnar.read_table(body, columnar.ARROW_STREAM, 100, "predictions")
    assert read.schema.field("cat_0").type == pa.string()
    assert vectorised.fast_predictions(read, MODEL, TIMES, pseudonym) == record_path(table)
