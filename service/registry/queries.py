"""What other packages read of the registry: models, versions, their names and references.

Callers pass their own session (one transaction per request or job, opened at the edge); the
SQL stays in `registry/repository.py`. Model and version rows are handed out to be read, never
changed: the registry alone writes them (`registry/service.py: register`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.registry import repository
from service.storage.registry_tables import Model, ModelVersion


def model_with_versions(session: Session, name: str) -> tuple[Model | None, list[ModelVersion]]:
    """The model and its versions in registration order, in one query."""
    return repository.model_with_versions(session, name)


def models_with_versions(session: Session) -> list[tuple[Model, list[ModelVersion]]]:
    """Every model with its versions, by model name then registration order, in one query."""
    return repository.all_models_with_versions(session)


def model_name(session: Session, model_id: int) -> str:
    """The model's name; "" for an id no longer registered (erased)."""
    return repository.model_names(session, [model_id]).get(model_id, "")


def model_names(session: Session, model_ids: Sequence[int]) -> dict[int, str]:
    """Names of the models of ``model_ids`` that exist, in one query."""
    return repository.model_names(session, model_ids)


def version_names(session: Session, version_ids: Sequence[int]) -> dict[int, str]:
    """Version names (as registered) of the versions of ``version_ids`` that exist, in one query."""
    return repository.version_names(session, version_ids)


def active_reference_id(session: Session, version_id: int) -> int | None:
    """Id of the version's active uploaded reference; None when it has none."""
    return repository.active_reference_id(session, version_id)
