"""SQL of erasure and retention: finding and deleting raw events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from service.storage.event_tables import Outcome, Prediction

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
        ids = [row_id for row_id, _, _ in chunk]
        predictions += _count(session.execute(delete(Prediction).where(Prediction.id.in_(ids))))
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
    ids = list(session.scalars(select(Outcome.id).where(Outcome.received_at < cutoff).limit(limit)))
    if not ids:
        return 0
    deleted = _count(session.execute(delete(Outcome).where(Outcome.id.in_(ids))))
    session.flush()
    return deleted
