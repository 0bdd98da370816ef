"""SQL of ingestion: idempotent inserts and the look-ups that tell duplicates from conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from service.ingestion.records import OutcomeRecord, PredictionRecord, ReferenceRecord
from service.storage.dialect import (
    COPY_THRESHOLD,
    copy_insert_ignoring_duplicates,
    insert_new_returning_ids,
    is_postgres,
)
from service.storage.tables import Outcome, Prediction, Reference, ReferenceRow

# Ids per IN (...) look-up: under SQLite's 32,766 bound-parameter limit, and small enough
# for Postgres to plan as an index scan.
LOOKUP_CHUNK = 2_000

PREDICTIONS = cast(Table, Prediction.__table__)
OUTCOMES = cast(Table, Outcome.__table__)
REFERENCE_ROWS = cast(Table, ReferenceRow.__table__)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield ids[start : start + LOOKUP_CHUNK]


def _prediction_row(model_id: int, record: PredictionRecord, now: datetime) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "version_id": record.version.version_id,
        "prediction_id": record.prediction_id,
        "event_time": record.event_time,
        "received_at": now,
        "features": record.features,
        "predicted_label": record.predicted_label,
        "predicted_value": record.predicted_value,
        "score": record.score,
        "scores": record.scores,
        "attributes": record.attributes,
        "attributions": record.attributions,
        "subject_id": record.subject_id,
        "content_hash": record.content_hash(),
    }


def insert_predictions(
    session: Session, model_id: int, records: Sequence[PredictionRecord], now: datetime
) -> set[str]:
    """Insert the records whose id is new; returns the ids actually inserted."""
    rows = [_prediction_row(model_id, record, now) for record in records]
    return _insert_new(session, PREDICTIONS, rows)


def _insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[str]:
    key = ["model_id", "prediction_id"]
    if is_postgres(session) and len(rows) >= COPY_THRESHOLD:
        return set(copy_insert_ignoring_duplicates(session, table, rows, key, "prediction_id"))
    return set(insert_new_returning_ids(session, table, rows))


def insert_outcomes(
    session: Session, model_id: int, records: Sequence[OutcomeRecord], now: datetime
) -> set[str]:
    rows = [
        {
            "model_id": model_id,
            "prediction_id": r.prediction_id,
            "label": r.label,
            "value": r.value,
            "outcome_time": r.outcome_time,
            "received_at": now,
            "content_hash": r.content_hash(),
        }
        for r in records
    ]
    return _insert_new(session, OUTCOMES, rows)


def _id_matches(session: Session, column: Any, ids: Sequence[str]) -> Any:
    """``column IN ids``: one array parameter on Postgres (psycopg parses no per-id placeholder)."""
    if is_postgres(session):
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(String)))
    return column.in_(ids)


def _count_statements(table: Table) -> dict[str, Any]:
    base = select(func.count()).select_from(table).where(table.c.model_id == bindparam("model_id"))
    return {
        "postgresql": base.where(table.c.prediction_id == any_(bindparam("ids", type_=ARRAY(String)))),
        "sqlite": base.where(table.c.prediction_id.in_(bindparam("ids", expanding=True))),
    }


# Built once; counting joined outcomes runs on every ingestion request.
_COUNT_MATCHING = {"predictions": _count_statements(PREDICTIONS), "outcomes": _count_statements(OUTCOMES)}


def _id_chunks(session: Session, ids: Sequence[str]) -> Iterator[Sequence[str]]:
    return iter([ids]) if is_postgres(session) else _chunks(ids)


def stored_hashes(
    session: Session, table: type[Prediction] | type[Outcome], model_id: int, ids: Sequence[str]
) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for chunk in _id_chunks(session, ids):
        query = select(table.prediction_id, table.content_hash).where(
            table.model_id == model_id, _id_matches(session, table.prediction_id, chunk)
        )
        found.update({row.prediction_id: row.content_hash for row in session.execute(query)})
    return found


def stored_predictions(session: Session, model_id: int, ids: Sequence[str]) -> dict[str, Prediction]:
    query = select(Prediction).where(Prediction.model_id == model_id, Prediction.prediction_id.in_(ids))
    return {row.prediction_id: row for row in session.scalars(query)}


def stored_outcomes(session: Session, model_id: int, ids: Sequence[str]) -> dict[str, Outcome]:
    query = select(Outcome).where(Outcome.model_id == model_id, Outcome.prediction_id.in_(ids))
    return {row.prediction_id: row for row in session.scalars(query)}


def count_matching(
    session: Session, table: type[Prediction] | type[Outcome], model_id: int, ids: Sequence[str]
) -> int:
    """How many of ``ids`` have a row in ``table`` (outcomes joined to predictions, or back)."""
    total = 0
    statement = _COUNT_MATCHING[table.__tablename__][session.get_bind().dialect.name]
    for chunk in _id_chunks(session, ids):
        total += int(session.execute(statement, {"model_id": model_id, "ids": list(chunk)}).scalar_one())
    return total


def active_reference(session: Session, version_id: int) -> Reference | None:
    query = select(Reference).where(Reference.version_id == version_id, Reference.active.is_(True))
    return session.scalars(query.with_for_update()).one_or_none()


def retire_reference(session: Session, reference: Reference, now: datetime) -> None:
    """Deactivate a replaced reference and delete its rows; its header stays for the record."""
    session.execute(delete(ReferenceRow).where(ReferenceRow.reference_id == reference.id))
    session.execute(
        update(Reference).where(Reference.id == reference.id).values(active=False, replaced_at=now)
    )


def insert_reference(
    session: Session, version_id: int, records: Sequence[ReferenceRecord], content_hash: str, now: datetime
) -> Reference:
    reference = Reference(
        version_id=version_id, row_count=len(records), content_hash=content_hash, active=True, created_at=now
    )
    session.add(reference)
    session.flush()
    rows = [
        {
            "reference_id": reference.id,
            "row_index": index,
            "features": r.features,
            "predicted_label": r.predicted_label,
            "predicted_value": r.predicted_value,
            "score": r.score,
            "scores": r.scores,
            "label": r.label,
            "value": r.value,
            "attributes": r.attributes,
            "attributions": r.attributions,
        }
        for index, r in enumerate(records)
    ]
    session.execute(REFERENCE_ROWS.insert(), rows)
    return reference
