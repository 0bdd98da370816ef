"""SQL of the status pages: models, their newest windows, stored figures and alerts, and the
engine's backlog. Read-only; every query is bounded (a row limit or the run ids of one page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.alerting_tables import Alert
from service.storage.registry_tables import Model, ModelVersion


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert: Alert
    model: str
    version: str | None


def alerts(
    session: Session, *, states: Sequence[str], limit: int, model_id: int | None = None
) -> list[AlertRecord]:
    """Alerts in ``states`` with their model and version names, newest change first."""
    query = (
        select(Alert, Model.name, ModelVersion.version)
        .join(Model, Model.id == Alert.model_id)
        .outerjoin(ModelVersion, ModelVersion.id == Alert.version_id)
        .where(Alert.state.in_(states))
        .order_by(Alert.updated_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if model_id is not None:
        query = query.where(Alert.model_id == model_id)
    return [
        AlertRecord(alert, str(name), None if version is None else str(version))
        for alert, name, version in session.execute(query).all()
    ]


def schema_revision(session: Session) -> str | None:
    revision: str | None = MigrationContext.configure(session.connection()).get_current_revision()
    return revision
