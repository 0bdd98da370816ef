"""The event rows are laid out by their tables: every insert column is filled, on both write
paths (executemany on SQLite, COPY on Postgres), and nothing is stored NULL by omission."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select

from service.config import Settings
from service.ingestion import repository
from service.ingestion.records import (
    OutcomeRecord,
    PredictionRecord,
    ReferenceRecord,
    fingerprint,
    prediction_content,
)
from service.registry import repository as registry_repository
from service.registry.schemas import Task
from service.registry.service import VersionSpec
from service.storage import dialect, event_writes
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import ReferenceRow
from service.storage.rows import RowLayout, insert_columns

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
VERSION = VersionSpec(7, "v1", Task.BINARY, {}, frozenset(), "1", ("0", "1"), frozenset({"0", "1"}), ())


def _prediction(i: int) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=f"p{i}",
        event_time=NOW - timedelta(minutes=i),
        version=VERSION,
        features={"income": 1000.0 + i, "city": "Lyon"},
        predicted_label="1",
        predicted_value=None,
        score=0.75,
        scores={"0": 0.25, "1": 0.75},
        attributes={"sex": "F"},
        attributions={"income": 0.5},
        subject_id=f"s{i}",
    )


def _outcome(i: int) -> OutcomeRecord:
    return OutcomeRecord(prediction_id=f"p{i}", label="0", value=None, outcome_time=NOW + timedelta(hours=i))


def _declared(table: Any) -> set[str]:
    """Every column of the table but its generated id, read from the declaration."""
    return {c.name for c in cast(Table, table).columns} - {"id"}


def test_a_prediction_row_fills_every_column_of_the_table() -> None:
    row = repository.prediction_row(3, _prediction(1), NOW)
    assert set(row) == _declared(Prediction.__table__) == set(insert_columns(repository.PREDICTIONS))
    assert (row["model_id"], row["version_id"], row["received_at"]) == (3, 7, NOW)
    assert row["content_hash"] == _prediction(1).content_hash()
    assert (row["prediction_id"], row["subject_id"], row["scores"]) == ("p1", "s1", {"0": 0.25, "1": 0.75})


def test_an_outcome_row_fills_every_column_of_the_table() -> None:
    row = repository.outcome_row(3, _outcome(2), NOW)
    assert set(row) == _declared(Outcome.__table__) == set(insert_columns(repository.OUTCOMES))
    assert (row["model_id"], row["prediction_id"], row["label"], row["received_at"]) == (3, "p2", "0", NOW)
    assert row["outcome_time"] == NOW + timedelta(hours=2)


def test_a_reference_row_fills_every_column_of_the_table() -> None:
    record = ReferenceRecord({"income": 1.0}, "1", None, 0.5, None, "0", None, {"sex": "M"}, None)
    row = registry_repository.REFERENCE_ROW.row(record, 11, 4)
    assert set(row) == {c.name for c in cast(Table, ReferenceRow.__table__).columns}
    assert (row["reference_id"], row["row_index"], row["label"], row["attributes"]) == (
        11,
        4,
        "0",
        {"sex": "M"},
    )


def test_a_layout_refuses_a_given_column_the_table_does_not_have() -> None:
    with pytest.raises(ValueError, match="no insert column arrival"):
        RowLayout(repository.OUTCOMES, given=("model_id", "arrival"))


@dataclass(frozen=True)
class _Timeless:
    prediction_id: str
    label: str | None
    value: float | None


def test_a_record_without_a_column_fails_loudly_instead_of_storing_null() -> None:
    with pytest.raises(AttributeError, match="outcome_time"):
        repository.OUTCOME_ROW.row(_Timeless("p1", "0", None), 1, NOW, b"h" * 16)


def _stored(session: Any, table: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [r["prediction_id"] for r in rows]
    query = select(table).where(table.model_id == 3, table.prediction_id.in_(ids)).order_by(table.id)
    return [{c: getattr(found, c) for c in rows[0]} for found in session.scalars(query)]


@pytest.mark.parametrize("count", [3, dialect.COPY_THRESHOLD + 10])
def test_every_column_is_stored_on_both_write_paths(
    database_url: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below ``COPY_THRESHOLD`` rows an INSERT, at or above it COPY on Postgres; the COPY column
    list is the table's insert columns."""
    copied: list[list[str]] = []
    real_copy = dialect.copy_rows

    def recording_copy(cursor: Any, table: str, columns: list[str], rows: Any, memo: Any = None) -> None:
        copied.append(columns)
        real_copy(cursor, table, columns, rows, memo)

    monkeypatch.setattr(event_writes, "copy_rows", recording_copy)
    engine = create_database_engine(Settings(database_url=database_url, run_jobs=False))
    try:
        predictions = [repository.prediction_row(3, _prediction(i), NOW) for i in range(count)]
        outcomes = [repository.outcome_row(3, _outcome(i), NOW) for i in range(count)]
        with unit_of_work(create_session_factory(engine)) as session:
            assert len(repository.insert_new(session, Prediction, predictions)) == count
            assert len(repository.insert_new(session, Outcome, outcomes)) == count
            assert _stored(session, Prediction, predictions) == predictions
            assert _stored(session, Outcome, outcomes) == outcomes
    finally:
        engine.dispose()
    # Postgres: each table's key row is copied first into its key table (storage/event_writes.py).
    expected = [
        ["model_id", "prediction_id", "event_time"],
        list(insert_columns(repository.PREDICTIONS)),
        ["model_id", "prediction_id", "received_at"],
        list(insert_columns(repository.OUTCOMES)),
    ]
    uses_copy = database_url.startswith("postgresql") and count >= dialect.COPY_THRESHOLD
    assert copied == (expected if uses_copy else [])


@pytest.mark.parametrize(
    "event_time",
    [
        NOW,
        NOW + timedelta(microseconds=7),
        datetime(2026, 11, 22, 12, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 22, 8, 0, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_the_content_hash_is_that_of_the_iso_text_whatever_the_time_zone(event_time: datetime) -> None:
    """The hash reads a UTC time as orjson writes it (records.py: _hashed_time); the bytes must be
    those of the ISO text the stored hashes were made from, or a resend would be a conflict."""
    record = replace(_prediction(1), event_time=event_time)
    as_text = fingerprint(["p1", prediction_content(record, "v1")])
    assert record.content_hash() == as_text
    assert prediction_content(record, "v1")["timestamp"] == event_time.astimezone(UTC).isoformat()
