"""SQL of incidents: the open ones, their alerts, the firing alerts not yet grouped, listings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.alerting.incident_rules import IncidentState
from service.alerting.repository import about_period
from service.alerting.states import AlertState
from service.storage.alerting_tables import Alert, Incident


def firing_ungrouped(session: Session) -> list[Alert]:
    """Firing alerts that joined no incident yet, in the order they fired."""
    query = select(Alert).where(Alert.state == AlertState.FIRING, Alert.incident_id.is_(None))
    return list(session.scalars(query.order_by(Alert.fired_at, Alert.id)))


def open_incidents(session: Session) -> list[Incident]:
    query = select(Incident).where(Incident.state == IncidentState.OPEN)
    return list(session.scalars(query.order_by(Incident.id)))


def resolved_since(session: Session, model_ids: Sequence[int], since: datetime) -> list[Incident]:
    """Resolved incidents of the models whose windows end at or after ``since`` (candidates
    for the causes of the open ones)."""
    if not model_ids:
        return []
    query = select(Incident).where(
        Incident.state == IncidentState.RESOLVED,
        Incident.model_id.in_(list(model_ids)),
        Incident.window_end >= since,
    )
    return list(session.scalars(query.order_by(Incident.id)))


def alerts_of(session: Session, incident_ids: Sequence[int]) -> dict[int, list[Alert]]:
    """The alerts of each incident, in id order (one query)."""
    found: dict[int, list[Alert]] = defaultdict(list)
    if not incident_ids:
        return found
    query = select(Alert).where(Alert.incident_id.in_(list(incident_ids))).order_by(Alert.id)
    for alert in session.scalars(query):
        assert alert.incident_id is not None
        found[alert.incident_id].append(alert)
    return found


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    state: str | None = None
    model_id: int | None = None
    before_id: int | None = None
    limit: int = 100
    # Only those about [active_from, active_to) (a compliance report's period): their window
    # overlaps it (they often fire after it ends), or they were open at some moment of it.
    active_from: datetime | None = None
    active_to: datetime | None = None


def list_incidents(session: Session, where: IncidentFilter) -> list[Incident]:
    query = select(Incident)
    if where.state is not None:
        query = query.where(Incident.state == where.state)
    if where.model_id is not None:
        query = query.where(Incident.model_id == where.model_id)
    if where.before_id is not None:
        query = query.where(Incident.id < where.before_id)
    if where.active_from is not None and where.active_to is not None:
        query = query.where(about_period(Incident, Incident.opened_at, where.active_from, where.active_to))
    return list(session.scalars(query.order_by(Incident.id.desc()).limit(where.limit)))


def open_counts(session: Session) -> dict[int, int]:
    """Per model, its open incidents (one query; the partial index's rows)."""
    query = (
        select(Incident.model_id, func.count())
        .where(Incident.state == IncidentState.OPEN)
        .group_by(Incident.model_id)
    )
    return {int(model_id): int(count) for model_id, count in session.execute(query)}


def alert_counts(session: Session, incident_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per incident, (alerts, of them open) — one query over the listed incidents."""
    counts: dict[int, tuple[int, int]] = {}
    for incident_id, alerts in alerts_of(session, incident_ids).items():
        counts[incident_id] = (len(alerts), sum(a.state != AlertState.RESOLVED for a in alerts))
    return counts
