"""SQL of erasure and retention: finding and deleting raw events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from service.storage.event_tables import Outcome, Prediction
from service.storage.event_writes import delete_keys
from service.storage.partitions import drop_partition, expired_partition

# Rows deleted per statement: 1,000 keys keep each IN list within SQLite's 32,766 parameters
# (two per key for the outcomes' pairs) and each statement short.
CHUNK = 1_000


def subject_predictions(session: Session, subjects: Sequence[str]) -> list[tuple[int, int, str]]:
    """(id, model_id, prediction_id) of the predictions of these stored subject ids."""
    query = select(Prediction.id, Prediction.model_id, Prediction.prediction_id).where(
        Prediction.subject_id.in_(subjects)
    )
    return [(row.id, row.model_id, row.prediction_id) for row in session.execute(query)]


def delete_events(session: Session, rows: Sequence[tuple[int, int, str]]) -> tuple[int, int]:
    """Delete these predictions and their outcomes; (predictions, outcomes) deleted."""
    predictions = outcomes = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        pairs = [(model_id, prediction_id) for _, model_id, prediction_id in chunk]
        outcomes += _count(
            session.execute(delete(Outcome).where(tuple_(Outcome.model_id, Outcome.prediction_id).in_(pairs)))
        )
        # By key, not by id: on Postgres every partition has a (model_id, prediction_id) index
        # and none has one on id alone.
        predictions += _count(
            session.execute(
                delete(Prediction).where(tuple_(Prediction.model_id, Prediction.prediction_id).in_(pairs))
            )
        )
        delete_keys(session, Prediction, pairs)
        delete_keys(session, Outcome, pairs)
    session.flush()
    return predictions, outcomes


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def expired_predictions(
    session: Session, model_id: int, cutoff: datetime, limit: int
) -> list[tuple[int, int, str]]:
    """Predictions of a model with event time before ``cutoff``, folded or not."""
    query = (
        select(Prediction.id, Prediction.model_id, Prediction.prediction_id)
        .where(Prediction.model_id == model_id, Prediction.event_time < cutoff)
        .limit(limit)
    )
    return [(row.id, row.model_id, row.prediction_id) for row in session.execute(query)]


def delete_expired_outcomes(session: Session, cutoff: datetime, limit: int) -> int:
    """Outcomes received before ``cutoff`` (their predictions, older still, are gone or never came)."""
    expired = Outcome.received_at < cutoff
    query = select(Outcome.model_id, Outcome.prediction_id).where(expired).limit(limit)
    pairs = [(row.model_id, row.prediction_id) for row in session.execute(query)]
    if not pairs:
        return 0
    key = tuple_(Outcome.model_id, Outcome.prediction_id)
    deleted = _count(session.execute(delete(Outcome).where(expired, key.in_(pairs))))
    delete_keys(session, Outcome, pairs)
    session.flush()
    return deleted


def drop_expired_partition(session: Session, cutoff: datetime) -> tuple[int, int] | None:
    """Postgres: drop the oldest partition of ``predictions`` (else of ``outcomes``) that ends at
    or before ``cutoff``, with its key rows and, for predictions, the outcomes joined to its
    rows; (predictions, outcomes) deleted. None when no partition is wholly expired (always on
    SQLite)."""
    for table in ("predictions", "outcomes"):
        partition = expired_partition(session, table, cutoff)
        if partition is not None:
            rows, joined = drop_partition(session, table, partition)
            return (rows, joined) if table == "predictions" else (0, rows)
    return None
