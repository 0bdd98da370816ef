"""SQL of the reports: the rows a drift report samples, and what a model card lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.alerting.states import OPEN_STATES, AlertState
from service.storage.alerting_tables import Alert, RetrainRequest
from service.storage.engine_tables import Evaluation
from service.storage.event_tables import Prediction
from service.storage.registry_tables import Reference, ReferenceRow

# Ids per IN (...) look-up: under SQLite's 32,766 bound-parameter limit.
CHUNK = 2_000
# Ids read per round trip while a window's ids stream through the sampler.
PAGE = 20_000


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# ---------------------------------------------------------------- drift report


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
    ``PAGE`` (a server-side cursor on Postgres): the caller keeps only its sample of them."""
    query = select(Prediction.id).where(Prediction.model_id == model_id, Prediction.version_id == version_id)
    if start is not None:
        query = query.where(Prediction.event_time >= start)
    if end is not None:
        query = query.where(Prediction.event_time < end)
    query = query.order_by(Prediction.event_time, Prediction.id)
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=PAGE))
    for page in result.partitions():
        yield [int(row[0]) for row in page]


def prediction_features(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The stored features of the predictions ``ids``, in the order of ``ids``."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        query = select(Prediction.id, Prediction.features).where(Prediction.id.in_(chunk))
        found.update({int(row.id): row.features for row in session.execute(query)})
    return [found[i] for i in ids if i in found]


def reference_features(session: Session, reference_id: int, indexes: Sequence[int]) -> list[dict[str, Any]]:
    """The features of the reference rows at ``indexes`` (``row_index`` runs 0 … rows-1)."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(indexes):
        query = select(ReferenceRow.row_index, ReferenceRow.features).where(
            ReferenceRow.reference_id == reference_id, ReferenceRow.row_index.in_(chunk)
        )
        found.update({int(row.row_index): row.features for row in session.execute(query)})
    return [found[i] for i in indexes if i in found]


# ---------------------------------------------------------------- model card


def references_of(session: Session, version_id: int) -> list[Reference]:
    """Every reference uploaded for the version, newest first (the active one among them)."""
    query = select(Reference).where(Reference.version_id == version_id).order_by(Reference.id.desc())
    return list(session.scalars(query))


def figures(session: Session, run_ids: Sequence[int], families: Sequence[str]) -> dict[int, list[Evaluation]]:
    """Figures of ``families`` per run, in the order they were stored."""
    found: dict[int, list[Evaluation]] = {run_id: [] for run_id in run_ids}
    for chunk in _chunks(run_ids):
        query = (
            select(Evaluation)
            .where(Evaluation.run_id.in_(chunk), Evaluation.family.in_(families))
            .order_by(Evaluation.id)
        )
        for figure in session.scalars(query):
            found[int(figure.run_id)].append(figure)
    return found


def _of_version(model_id: int, version_id: int) -> Any:
    # Alerts without a version (no data) belong to every version of the model.
    return (Alert.model_id == model_id) & or_(Alert.version_id == version_id, Alert.version_id.is_(None))


def open_alerts(session: Session, model_id: int, version_id: int) -> list[Alert]:
    query = select(Alert).where(_of_version(model_id, version_id), Alert.state.in_(OPEN_STATES))
    return list(session.scalars(query.order_by(Alert.id)))


def resolved_alerts(session: Session, model_id: int, version_id: int, limit: int) -> list[Alert]:
    query = select(Alert).where(_of_version(model_id, version_id), Alert.state == AlertState.RESOLVED)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def retrain_requests(session: Session, version_id: int, limit: int) -> list[RetrainRequest]:
    query = select(RetrainRequest).where(RetrainRequest.version_id == version_id)
    return list(session.scalars(query.order_by(RetrainRequest.id.desc()).limit(limit)))
