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
    insert_new_returning,
    is_postgres,
    prepared_by_ids,
)
from service.storage.event_tables import EVENT_KEY, Outcome, Prediction
from service.storage.registry_tables import Reference, ReferenceRow
from service.storage.rows import RowLayout

PREDICTIONS = cast(Table, Prediction.__table__)
OUTCOMES = cast(Table, Outcome.__table__)
REFERENCE_ROWS = cast(Table, ReferenceRow.__table__)

Event = type[Prediction] | type[Outcome]
_TABLES: dict[Event, Table] = {Prediction: PREDICTIONS, Outcome: OUTCOMES}

# The columns the write path supplies; every other column of the table is the record's
# attribute of the same name (storage/rows.py), so a new column the record carries needs no
# edit here.
PREDICTION_ROW = RowLayout(PREDICTIONS, given=("model_id", "version_id", "received_at", "content_hash"))
OUTCOME_ROW = RowLayout(OUTCOMES, given=("model_id", "received_at", "content_hash"))
REFERENCE_ROW = RowLayout(REFERENCE_ROWS, given=("reference_id", "row_index"))


def prediction_row(model_id: int, record: PredictionRecord, now: datetime) -> dict[str, Any]:
    return PREDICTION_ROW.row(record, model_id, record.version.version_id, now, record.content_hash())


def outcome_row(model_id: int, record: OutcomeRecord, now: datetime) -> dict[str, Any]:
    return OUTCOME_ROW.row(record, model_id, now, record.content_hash())


def insert_new(session: Session, entity: Event, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose (model_id, prediction_id) is new; returns the ids inserted."""
    table = _TABLES[entity]
    if is_postgres(session) and len(rows) >= COPY_THRESHOLD:
        return set(copy_insert_ignoring_duplicates(session, table, rows, EVENT_KEY, "prediction_id"))
    return set(insert_new_returning(session, table, rows, EVENT_KEY, "prediction_id"))


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
    rows = [REFERENCE_ROW.row(r, reference.id, index) for index, r in enumerate(records)]
    session.execute(REFERENCE_ROWS.insert(), rows)
    return reference
