"""What other packages read of the registry: models, versions, their names and references.

Callers pass their own session (one transaction per request or job, opened at the edge); the
SQL stays in `registry/repository.py`. Model and version rows are handed out to be read, never
changed: the registry alone writes them (`registry/service.py: register`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.registry import repository
from service.storage.registry_tables import Model, ModelVersion, Reference


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One registered version as stored: ``spec`` is the registration's schema (JSON),
    ``spec_hash`` its sha256 (hex), ``provenance`` the client's metadata; ``created_at`` UTC."""

    id: int
    model_id: int
    version: str
    task: str
    spec: dict[str, Any]
    spec_hash: str
    provenance: dict[str, Any]
    created_at: datetime


def version_records(session: Session, name: str) -> list[VersionRecord]:
    """The versions of model ``name`` in registration order (the last is the newest); [] for a
    name not registered. One query."""
    _model, rows = repository.model_with_versions(session, name)
    return [
        VersionRecord(
            row.id,
            row.model_id,
            row.version,
            row.task,
            row.spec,
            row.spec_hash,
            row.provenance,
            row.created_at,
        )
        for row in rows
    ]


def models_with_versions(session: Session) -> list[tuple[Model, list[ModelVersion]]]:
    """Every model with its versions, by model name then registration order, in one query."""
    return repository.all_models_with_versions(session)


def model_lines(session: Session) -> list[tuple[int, str, list[str]]]:
    """(id, name, version names in registration order) of every model, models by name; a model
    with no version yet has []. One query."""
    return repository.model_lines(session)


def model_name(session: Session, model_id: int) -> str:
    """The model's name; "" for an id no longer registered (erased)."""
    return repository.model_names(session, [model_id]).get(model_id, "")


def model_names(session: Session, model_ids: Sequence[int]) -> dict[int, str]:
    """Names of the models of ``model_ids`` that exist, in one query (none for no ids)."""
    return repository.model_names(session, model_ids) if model_ids else {}


def version_names(session: Session, version_ids: Sequence[int]) -> dict[int, str]:
    """Version names (as registered) of the versions of ``version_ids`` that exist, in one query
    (none for no ids)."""
    return repository.version_names(session, version_ids) if version_ids else {}


def active_reference_id(session: Session, version_id: int) -> int | None:
    """Id of the version's active uploaded reference; None when it has none."""
    return repository.active_reference_id(session, version_id)


# ---------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class StoredReference:
    """The header of a version's uploaded reference; ``content_hash`` is the sha256 (hex) of its rows."""

    id: int
    version_id: int
    row_count: int
    content_hash: str
    created_at: datetime
    active: bool
    replaced_at: datetime | None


def _stored(row: Reference) -> StoredReference:
    return StoredReference(
        row.id, row.version_id, row.row_count, row.content_hash, row.created_at, row.active, row.replaced_at
    )


def active_references(session: Session) -> dict[int, StoredReference]:
    """The active reference of every version that has one, by version id (one query)."""
    return {row.version_id: _stored(row) for row in repository.active_references(session)}


def reference_rows(session: Session, reference_id: int) -> list[tuple[Any, ...]]:
    """Every row of the reference in upload order (one query): features, predicted label,
    predicted value, score, attributes, attributions, label, value — the order of
    aggregation's ``EventRow``, which wraps them."""
    return repository.reference_rows(session, reference_id)


def lock_active_reference(session: Session, version_id: int) -> StoredReference | None:
    """The version's active reference, its row locked (``FOR UPDATE``) until the caller's commit
    so that two uploads for one version replace one another in turn."""
    row = repository.lock_active_reference(session, version_id)
    return None if row is None else _stored(row)


def replace_reference(
    session: Session,
    version_id: int,
    records: Sequence[object],
    content_hash: str,
    now: datetime,
    retired: StoredReference | None,
) -> StoredReference:
    """Store ``records`` (objects with an attribute per column of ``reference_rows``) as the
    version's active reference; ``retired``, the one it replaces, is deactivated and its rows deleted."""
    if retired is not None:
        repository.retire_reference(session, retired.id, now)
    return _stored(repository.insert_reference(session, version_id, records, content_hash, now))


def references_of(session: Session, version_id: int) -> list[StoredReference]:
    """Every reference uploaded for the version, newest first (the active one among them); one query."""
    return [_stored(row) for row in repository.references_of(session, version_id)]


def reference_features(session: Session, reference_id: int, indexes: Sequence[int]) -> list[dict[str, Any]]:
    """The features of the reference rows at ``indexes`` (``row_index`` runs 0 … rows-1), in
    the order of ``indexes``; 2,000 indexes a query."""
    return repository.reference_features(session, reference_id, indexes)


def all_model_names(session: Session) -> dict[int, str]:
    """Every registered model's name by id (one query)."""
    return repository.all_model_names(session)


def model_ids(session: Session) -> list[int]:
    """Every registered model's id, ascending (one query)."""
    return repository.model_ids(session)
