"""SQL of the registry. Lower layer: flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from service.storage.dialect import insert_ignoring_duplicates
from service.storage.event_tables import Outcome, Prediction
from service.storage.registry_tables import Model, ModelVersion, Reference, ReferenceRow
from service.storage.rows import RowLayout

REFERENCE_ROWS = cast(Table, ReferenceRow.__table__)
# A reference row is its record's attributes of the same names (storage/rows.py), numbered.
REFERENCE_ROW = RowLayout(REFERENCE_ROWS, given=("reference_id", "row_index"))


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


# ---------------------------------------------------------------- references


def active_references(session: Session) -> list[Reference]:
    return list(session.scalars(select(Reference).where(Reference.active.is_(True))))


def lock_active_reference(session: Session, version_id: int) -> Reference | None:
    query = select(Reference).where(Reference.version_id == version_id, Reference.active.is_(True))
    return session.scalars(query.with_for_update()).one_or_none()


def retire_reference(session: Session, reference_id: int, now: datetime) -> None:
    """Deactivate a replaced reference and delete its rows; its header stays for the record."""
    session.execute(delete(ReferenceRow).where(ReferenceRow.reference_id == reference_id))
    retire = update(Reference).where(Reference.id == reference_id).values(active=False, replaced_at=now)
    session.execute(retire)


def insert_reference(
    session: Session, version_id: int, records: Sequence[object], content_hash: str, now: datetime
) -> Reference:
    """A new active reference holding ``records`` (objects with an attribute per column of
    ``reference_rows``: ingestion's ``ReferenceRecord``), numbered in upload order."""
    reference = Reference(
        version_id=version_id, row_count=len(records), content_hash=content_hash, active=True, created_at=now
    )
    session.add(reference)
    session.flush()
    rows = [REFERENCE_ROW.row(record, reference.id, index) for index, record in enumerate(records)]
    session.execute(REFERENCE_ROWS.insert(), rows)
    return reference


def reference_rows(session: Session, reference_id: int) -> list[tuple[Any, ...]]:
    """The rows of a reference in upload order: the columns of ``ReferenceRow`` below."""
    query = (
        select(
            ReferenceRow.features,
            ReferenceRow.predicted_label,
            ReferenceRow.predicted_value,
            ReferenceRow.score,
            ReferenceRow.attributes,
            ReferenceRow.attributions,
            ReferenceRow.label,
            ReferenceRow.value,
        )
        .where(ReferenceRow.reference_id == reference_id)
        .order_by(ReferenceRow.row_index)
    )
    return [tuple(row) for row in session.execute(query)]


# Row indexes per IN (...) look-up: under SQLite's 32,766 bound-parameter limit.
INDEXES_PER_QUERY = 2_000


def references_of(session: Session, version_id: int) -> list[Reference]:
    """Every reference uploaded for the version, newest first (the active one among them)."""
    query = select(Reference).where(Reference.version_id == version_id).order_by(Reference.id.desc())
    return list(session.scalars(query))


def reference_features(session: Session, reference_id: int, indexes: Sequence[int]) -> list[dict[str, Any]]:
    """The features of the reference rows at ``indexes`` (``row_index`` runs 0 … rows-1)."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(indexes), INDEXES_PER_QUERY):
        chunk = indexes[start : start + INDEXES_PER_QUERY]
        query = select(ReferenceRow.row_index, ReferenceRow.features).where(
            ReferenceRow.reference_id == reference_id, ReferenceRow.row_index.in_(chunk)
        )
        found.update({int(row.row_index): row.features for row in session.execute(query)})
    return [found[i] for i in indexes if i in found]


def model_lines(session: Session) -> list[tuple[int, str, list[str]]]:
    """(id, name, version names in registration order) of every model, by name (one query)."""
    rows = session.execute(
        select(Model.id, Model.name, ModelVersion.version)
        .outerjoin(ModelVersion, ModelVersion.model_id == Model.id)
        .order_by(Model.name, ModelVersion.id)
    ).all()
    grouped: dict[int, tuple[int, str, list[str]]] = {}
    for model_id, name, version in rows:
        entry = grouped.setdefault(int(model_id), (int(model_id), str(name), []))
        if version is not None:
            entry[2].append(str(version))
    return list(grouped.values())


def all_model_names(session: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in session.execute(select(Model.id, Model.name))}


def model_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Model.id).order_by(Model.id)))
