"""SQL of ingestion: idempotent inserts and the look-ups that tell duplicates from conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from service.ingestion.records import OutcomeRecord, PredictionRecord, ReferenceRecord
from service.storage.dialect import (
    COPY_THRESHOLD,
    chunks,
    copy_insert_ignoring_duplicates,
    execute_by_ids,
    insert_new_returning_ids,
    is_postgres,
    prepared_by_ids,
)
from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import Reference, ReferenceRow

PREDICTIONS = cast(Table, Prediction.__table__)
OUTCOMES = cast(Table, Outcome.__table__)
REFERENCE_ROWS = cast(Table, ReferenceRow.__table__)

# The two event tables share their key: a client id unique per model.
Event = type[Prediction] | type[Outcome]
KEY = ["model_id", "prediction_id"]
_TABLES: dict[Event, Table] = {Prediction: PREDICTIONS, Outcome: OUTCOMES}


def prediction_row(model_id: int, record: PredictionRecord, now: datetime) -> dict[str, Any]:
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


def outcome_row(model_id: int, record: OutcomeRecord, now: datetime) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "prediction_id": record.prediction_id,
        "label": record.label,
        "value": record.value,
        "outcome_time": record.outcome_time,
        "received_at": now,
        "content_hash": record.content_hash(),
    }


def insert_new(session: Session, entity: Event, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose (model_id, prediction_id) is new; returns the ids inserted."""
    table = _TABLES[entity]
    if is_postgres(session) and len(rows) >= COPY_THRESHOLD:
        return set(copy_insert_ignoring_duplicates(session, table, rows, KEY, "prediction_id"))
    return set(insert_new_returning_ids(session, table, rows))


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
