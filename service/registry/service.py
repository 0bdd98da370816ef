"""Registering versions idempotently, and the compiled schema that ingestion validates against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from service.errors import ApiError, Conflict, FieldError, NotFound
from service.registry import repository
from service.registry.schemas import (
    EventCounts,
    FeatureSpec,
    FeatureType,
    ModelDetail,
    ModelList,
    ModelRegistration,
    ModelSummary,
    ModelVersionView,
    Task,
    VersionSummary,
    canonical_label,
)
from service.storage.registry_tables import Model, ModelVersion


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """What a version's records are validated against, in the shape validation wants."""

    version_id: int
    version: str
    task: Task
    feature_types: dict[str, FeatureType]
    protected_attributes: frozenset[str]
    positive_label: str | None
    classes: tuple[str, ...]
    class_set: frozenset[str]
    feature_kinds: tuple[tuple[str, bool], ...]  # (name, is numeric), in schema order
    # The numeric features in schema order: the order of a stored row's packed numbers.
    numeric_features: tuple[str, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numeric_features", tuple(n for n, numeric in self.feature_kinds if numeric))


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    model_id: int
    name: str
    versions: dict[str, VersionSpec]
    latest: VersionSpec


def pick_version(model: RegisteredModel, name: str | None, unknown: type[ApiError] = NotFound) -> VersionSpec:
    """The named version, or the newest when ``name`` is None; ``unknown`` (404 by default, 422
    where the version came in a body) naming ``version`` when the model has no such version."""
    if name is None:
        return model.latest
    if name not in model.versions:
        raise unknown(
            f"model {model.name!r} has no version {name!r}",
            [FieldError(None, "version", f"unknown version; known: {sorted(model.versions)}")],
        )
    return model.versions[name]


def _spec_of(registration: ModelRegistration) -> dict[str, Any]:
    positive = registration.positive_label
    return {
        "features": [{"name": f.name, "type": f.type.value} for f in registration.features],
        "protected_attributes": list(registration.protected_attributes),
        "positive_label": None if positive is None else canonical_label(positive),
        "classes": registration.class_labels() or None,
    }


def _hash(task: str, spec: dict[str, Any]) -> str:
    canonical = orjson.dumps({"task": task, "spec": spec}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _view(model: Model, row: ModelVersion) -> ModelVersionView:
    spec = row.spec
    return ModelVersionView(
        name=model.name,
        version=row.version,
        task=Task(row.task),
        features=[FeatureSpec.model_validate(f) for f in spec["features"]],
        protected_attributes=spec["protected_attributes"],
        positive_label=spec["positive_label"],
        classes=spec["classes"],
        metadata=row.provenance,
        spec_hash=row.spec_hash,
        created_at=row.created_at,
    )


def _differences(
    row: ModelVersion, task: str, spec: dict[str, Any], meta: dict[str, Any]
) -> list[FieldError]:
    registered = {"task": row.task, **row.spec, "metadata": row.provenance}
    sent = {"task": task, **spec, "metadata": meta}
    return [
        FieldError(
            None,
            key,
            f"registered {orjson.dumps(registered[key]).decode()}, sent {orjson.dumps(sent[key]).decode()}",
        )
        for key in sent
        if orjson.dumps(registered.get(key), option=orjson.OPT_SORT_KEYS)
        != orjson.dumps(sent[key], option=orjson.OPT_SORT_KEYS)
    ]


def register(
    session: Session, registration: ModelRegistration, now: datetime
) -> tuple[ModelVersionView, bool]:
    """Add a version; the same version sent again is a no-op. Returns (view, created)."""
    spec = _spec_of(registration)
    task = registration.task.value
    model = repository.lock_or_create_model(session, registration.name, now)
    existing = {row.version: row for row in repository.versions_of(session, model.id)}
    row = existing.get(registration.version)
    if row is not None:
        differences = _differences(row, task, spec, registration.metadata)
        if differences:
            raise Conflict(
                f"version {registration.version!r} of model {registration.name!r} is already registered "
                "with different content; register a new version instead",
                differences,
            )
        return _view(model, row), False
    row = repository.add_version(
        session,
        model=model,
        version=registration.version,
        task=task,
        spec=spec,
        spec_hash=_hash(task, spec),
        provenance=registration.metadata,
        now=now,
    )
    return _view(model, row), True


def compile_version(row: ModelVersion) -> VersionSpec:
    spec = row.spec
    feature_types = {f["name"]: FeatureType(f["type"]) for f in spec["features"]}
    classes = tuple(spec["classes"] or ())
    return VersionSpec(
        version_id=row.id,
        version=row.version,
        task=Task(row.task),
        feature_types=feature_types,
        protected_attributes=frozenset(spec["protected_attributes"]),
        positive_label=spec["positive_label"],
        classes=classes,
        class_set=frozenset(classes),
        feature_kinds=tuple((name, kind is FeatureType.NUMERIC) for name, kind in feature_types.items()),
    )


def load_model(session: Session, name: str) -> RegisteredModel:
    """The model and its compiled versions, or 404."""
    model, rows = repository.model_with_versions(session, name)
    if model is None or not rows:
        raise NotFound(f"model {name!r} is not registered; register it with POST /v1/models")
    versions = {row.version: compile_version(row) for row in rows}
    return RegisteredModel(model.id, model.name, versions, versions[rows[-1].version])


def list_models(session: Session) -> ModelList:
    return ModelList(
        models=[
            ModelSummary(
                name=model.name,
                created_at=model.created_at,
                latest_version=versions[-1].version,
                versions=[v.version for v in versions],
            )
            for model, versions in repository.all_models_with_versions(session)
        ]
    )


def model_detail(session: Session, name: str) -> ModelDetail:
    model, rows = repository.model_with_versions(session, name)
    if model is None or not rows:
        raise NotFound(f"model {name!r} is not registered")
    predictions, outcomes, joined = repository.event_counts(session, model.id)
    per_version = repository.predictions_per_version(session, model.id)
    reference_rows = repository.active_reference_rows(session, [row.id for row in rows])
    return ModelDetail(
        name=model.name,
        created_at=model.created_at,
        latest_version=rows[-1].version,
        versions=[_view(model, row) for row in rows],
        counts=EventCounts(
            predictions=predictions,
            outcomes=outcomes,
            outcomes_joined=joined,
            outcomes_waiting=outcomes - joined,
        ),
        version_counts=[
            VersionSummary(
                version=row.version,
                created_at=row.created_at,
                predictions=per_version.get(row.id, 0),
                reference_rows=reference_rows.get(row.id, 0),
            )
            for row in rows
        ],
    )
