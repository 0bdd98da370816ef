"""SQL of exports: the window's id range, then one keyset page of joined rows at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from service.storage.event_tables import Outcome, Prediction


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


def id_range(session: Session, where: ExportFilter) -> tuple[int, int] | None:
    """The smallest and largest prediction id in the window (one scan of the model-time
    index), or None when it is empty. Pages then walk the primary key inside this range,
    and rows inserted after the export started are left out."""
    low, high = session.execute(
        select(func.min(Prediction.id), func.max(Prediction.id)).where(*_in_window(where))
    ).one()
    return None if low is None else (int(low), int(high))


def page(session: Session, where: ExportFilter, *, after_id: int, last_id: int, size: int) -> list[ExportRow]:
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
