"""SQL of the registry. Lower layer: flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from service.storage.dialect import insert_ignoring_duplicates
from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import Model, ModelVersion, Reference


def lock_or_create_model(session: Session, name: str, now: datetime) -> Model:
    """The model row, created if new. Two concurrent first registrations meet at the unique name."""
    statement = insert_ignoring_duplicates(session, Model, ["name"]).values(name=name, created_at=now)
    session.execute(statement)
    return session.scalars(select(Model).where(Model.name == name).with_for_update()).one()


# Built once: ingestion runs this on every request, and building it cost ~0.2 ms each time.
_MODEL_WITH_VERSIONS = (
    select(Model, ModelVersion)
    .join(ModelVersion, ModelVersion.model_id == Model.id)
    .where(Model.name == bindparam("name"))
    .order_by(ModelVersion.id)
)


def model_with_versions(session: Session, name: str) -> tuple[Model | None, list[ModelVersion]]:
    """The model and its versions in registration order, in one query (ingestion's hot path)."""
    rows = session.execute(_MODEL_WITH_VERSIONS, {"name": name}).all()
    if not rows:
        return None, []
    return rows[0][0], [version for _, version in rows]


def versions_of(session: Session, model_id: int) -> Sequence[ModelVersion]:
    """Versions in registration order; the last one is the latest."""
    query = select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.id)
    return session.scalars(query).all()


def add_version(
    session: Session,
    *,
    model: Model,
    version: str,
    task: str,
    spec: dict[str, Any],
    spec_hash: str,
    provenance: dict[str, Any],
    now: datetime,
) -> ModelVersion:
    row = ModelVersion(
        model_id=model.id,
        version=version,
        task=task,
        spec=spec,
        spec_hash=spec_hash,
        provenance=provenance,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def all_models_with_versions(session: Session) -> list[tuple[Model, list[ModelVersion]]]:
    rows = session.execute(
        select(Model, ModelVersion)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .order_by(Model.name, ModelVersion.id)
    ).all()
    grouped: dict[int, tuple[Model, list[ModelVersion]]] = {}
    for model, version in rows:
        grouped.setdefault(model.id, (model, []))[1].append(version)
    return list(grouped.values())


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.execute(query).scalar_one())


def event_counts(session: Session, model_id: int) -> tuple[int, int, int]:
    """(predictions, outcomes, outcomes whose prediction has arrived) of a model."""
    predictions = _count(session, select(func.count()).where(Prediction.model_id == model_id))
    outcomes = _count(session, select(func.count()).where(Outcome.model_id == model_id))
    joined = _count(
        session,
        select(func.count())
        .select_from(Outcome)
        .join(
            Prediction,
            (Prediction.model_id == Outcome.model_id) & (Prediction.prediction_id == Outcome.prediction_id),
        )
        .where(Outcome.model_id == model_id),
    )
    return predictions, outcomes, joined


def predictions_per_version(session: Session, model_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Prediction.version_id, func.count())
        .where(Prediction.model_id == model_id)
        .group_by(Prediction.version_id)
    ).all()
    return {int(version_id): int(count) for version_id, count in rows}


def active_reference_rows(session: Session, version_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(Reference.version_id, Reference.row_count).where(
            Reference.version_id.in_(version_ids), Reference.active.is_(True)
        )
    ).all()
    return {int(version_id): int(count) for version_id, count in rows}


def model_names(session: Session, model_ids: Sequence[int]) -> dict[int, str]:
    query = select(Model.id, Model.name).where(Model.id.in_(model_ids))
    return {int(i): str(n) for i, n in session.execute(query)}


def version_names(session: Session, version_ids: Sequence[int]) -> dict[int, str]:
    query = select(ModelVersion.id, ModelVersion.version).where(ModelVersion.id.in_(version_ids))
    return {int(i): str(v) for i, v in session.execute(query)}


def active_reference_id(session: Session, version_id: int) -> int | None:
    query = select(Reference.id).where(Reference.version_id == version_id, Reference.active.is_(True))
    return session.scalar(query)
