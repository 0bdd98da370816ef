"""SQL of ingestion: idempotent inserts and the look-ups that tell duplicates from conflicts;
the keyset pages of joined events that dataset exports read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, select
from sqlalchemy.orm import Session

from service.ingestion.records import OutcomeRecord, PredictionRecord
from service.storage.dialect import chunks, execute_by_ids, prepared_by_ids
from service.storage.event_tables import EVENT_KEY, Outcome, Prediction
from service.storage.event_writes import insert_new_events
from service.storage.rows import RowLayout

PREDICTIONS = cast(Table, Prediction.__table__)
OUTCOMES = cast(Table, Outcome.__table__)

Event = type[Prediction] | type[Outcome]
_TABLES: dict[Event, Table] = {Prediction: PREDICTIONS, Outcome: OUTCOMES}

# The columns the write path supplies; every other column of the table is the record's
# attribute of the same name (storage/rows.py), so a new column the record carries needs no
# edit here.
PREDICTION_ROW = RowLayout(PREDICTIONS, given=("model_id", "version_id", "received_at", "content_hash"))
OUTCOME_ROW = RowLayout(OUTCOMES, given=("model_id", "received_at", "content_hash"))


def prediction_row(model_id: int, record: PredictionRecord, now: datetime) -> dict[str, Any]:
    return PREDICTION_ROW.row(record, model_id, record.version.version_id, now, record.content_hash())


def outcome_row(model_id: int, record: OutcomeRecord, now: datetime) -> dict[str, Any]:
    return OUTCOME_ROW.row(record, model_id, now, record.content_hash())


def insert_new(session: Session, entity: Event, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose (model_id, prediction_id) is new; returns the ids inserted."""
    return set(insert_new_events(session, _TABLES[entity], rows, EVENT_KEY, "prediction_id"))


def _of_model(statement: Any, table: Table) -> Any:
    return statement.where(table.c.model_id == bindparam("model_id"))


_DELAY_TIME: dict[Event, str] = {Prediction: "event_time", Outcome: "received_at"}

_STATEMENTS = {
    entity: {
        "hashes": prepared_by_ids(
            _of_model(select(table.c.prediction_id, table.c.content_hash), table), table.c.prediction_id
        ),
        # The time a label delay is measured from (prediction) or to (outcome).
        "times": prepared_by_ids(
            _of_model(select(table.c.prediction_id, table.c[_DELAY_TIME[entity]]), table),
            table.c.prediction_id,
        ),
    }
    for entity, table in _TABLES.items()
}


def _in_chunks(
    session: Session, entity: Event, kind: str, model_id: int, ids: Sequence[str]
) -> Iterator[Any]:
    """Run a prebuilt statement over ``ids`` (see ``storage.dialect.execute_by_ids``)."""
    return execute_by_ids(session, _STATEMENTS[entity][kind], {"model_id": model_id}, ids)


def stored_hashes(session: Session, entity: Event, model_id: int, ids: Sequence[str]) -> dict[str, bytes]:
    return {
        row.prediction_id: row.content_hash
        for result in _in_chunks(session, entity, "hashes", model_id, ids)
        for row in result
    }


def matching_times(session: Session, entity: Event, model_id: int, ids: Sequence[str]) -> dict[str, datetime]:
    """The ids of ``ids`` that have a row of ``entity`` (the join counts), with the prediction's
    event time or the outcome's arrival time: what the label delay is measured between."""
    return {
        row[0]: row[1] for result in _in_chunks(session, entity, "times", model_id, ids) for row in result
    }


def stored_rows(session: Session, entity: Event, model_id: int, ids: Sequence[str]) -> dict[str, Any]:
    """Full stored rows by id (only to say how a conflicting resend differs)."""
    found: dict[str, Any] = {}
    for chunk in chunks(ids):
        query = select(entity).where(entity.model_id == model_id, entity.prediction_id.in_(chunk))
        rows = cast("Sequence[Prediction | Outcome]", session.scalars(query).all())
        found.update({row.prediction_id: row for row in rows})
    return found


# ---------------------------------------------------------------- dataset exports


@dataclass(frozen=True, slots=True)
class ExportFilter:
    model_id: int
    version_id: int | None
    start: datetime
    end: datetime
    labelled: bool


class ExportRow(NamedTuple):
    id: int
    prediction_id: str
    version_id: int
    event_time: datetime
    features: dict[str, Any]
    predicted_label: str | None
    predicted_value: float | None
    score: float | None
    scores: dict[str, float] | None
    attributes: dict[str, Any]
    label: str | None
    value: float | None
    outcome_time: datetime | None


_COLUMNS = (
    Prediction.id,
    Prediction.prediction_id,
    Prediction.version_id,
    Prediction.event_time,
    Prediction.features,
    Prediction.predicted_label,
    Prediction.predicted_value,
    Prediction.score,
    Prediction.scores,
    Prediction.attributes,
    Outcome.label,
    Outcome.value,
    Outcome.outcome_time,
)
_JOIN = and_(Outcome.model_id == Prediction.model_id, Outcome.prediction_id == Prediction.prediction_id)


def _in_window(where: ExportFilter) -> list[ColumnElement[bool]]:
    conditions = [
        Prediction.model_id == where.model_id,
        Prediction.event_time >= where.start,
        Prediction.event_time < where.end,
    ]
    if where.version_id is not None:
        conditions.append(Prediction.version_id == where.version_id)
    return conditions


def export_id_range(session: Session, where: ExportFilter) -> tuple[int, int] | None:
    """The smallest and largest prediction id in the window (one scan of the model-time
    index), or None when it is empty. Pages then walk the primary key inside this range,
    and rows inserted after the export started are left out."""
    low, high = session.execute(
        select(func.min(Prediction.id), func.max(Prediction.id)).where(*_in_window(where))
    ).one()
    return None if low is None else (int(low), int(high))


def export_page(
    session: Session, where: ExportFilter, *, after_id: int, last_id: int, size: int
) -> list[ExportRow]:
    """Up to ``size`` rows with ``after_id`` < id ≤ ``last_id``, in id order, each with its
    outcome (only those with one when ``labelled``)."""
    query = (
        select(*_COLUMNS)
        .join(Outcome, _JOIN, isouter=not where.labelled)
        .where(*_in_window(where), Prediction.id > after_id, Prediction.id <= last_id)
        .order_by(Prediction.id)
        .limit(size)
    )
    return [ExportRow(*row) for row in session.execute(query)]


# ---------------------------------------------------------------- drift reports' samples

# Ids per IN (...) look-up: under SQLite's 32,766 bound-parameter limit.
SAMPLE_CHUNK = 2_000
# Ids read per round trip while a window's ids stream through the sampler.
SAMPLE_PAGE = 20_000


def prediction_ids(
    session: Session,
    model_id: int,
    version_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Iterator[Sequence[int]]:
    """Ids of the version's predictions with ``start`` ≤ event_time < ``end`` (the first
    ``limit`` when given: a bootstrap reference), in event-time order, streamed in pages of
    ``SAMPLE_PAGE`` (a server-side cursor on Postgres): the caller keeps only its sample of them."""
    query = select(Prediction.id).where(Prediction.model_id == model_id, Prediction.version_id == version_id)
    if start is not None:
        query = query.where(Prediction.event_time >= start)
    if end is not None:
        query = query.where(Prediction.event_time < end)
    query = query.order_by(Prediction.event_time, Prediction.id)
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=SAMPLE_PAGE))
    for page in result.partitions():
        yield [int(row[0]) for row in page]


def prediction_features(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The stored features of the predictions ``ids``, in the order of ``ids``."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), SAMPLE_CHUNK):
        chunk = ids[start : start + SAMPLE_CHUNK]
        query = select(Prediction.id, Prediction.features).where(Prediction.id.in_(chunk))
        found.update({int(row.id): row.features for row in session.execute(query)})
    return [found[i] for i in ids if i in found]


def first_unfolded_received_at(session: Session, watermark: int, model_id: int | None) -> datetime | None:
    """When the oldest prediction not yet aggregated was received (a primary-key look-up)."""
    query = select(Prediction.received_at).where(Prediction.id > watermark).order_by(Prediction.id).limit(1)
    if model_id is not None:
        query = query.where(Prediction.model_id == model_id)
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result
