"""What the incident endpoints and the status page read and change: views, listings, detail,
acknowledgements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.alerting import incident_repository as repository
from service.alerting.incident_rules import AlertFacts, Cause
from service.alerting.incident_schemas import (
    CauseView,
    IncidentAcknowledge,
    IncidentDetail,
    IncidentPage,
    IncidentView,
    NoteView,
    SliceView,
)
from service.alerting.notify import Names
from service.alerting.states import AlertState
from service.errors import FieldError, NotFound
from service.storage.alerting_tables import Alert, Incident


def facts_of(alert: Alert) -> AlertFacts:
    """The grouping rules' view of an alert (``incident_rules``)."""
    fired = alert.fired_at or alert.started_at
    window = (alert.window_start or fired, alert.window_end or fired)
    return AlertFacts(
        id=alert.id,
        family=alert.family,
        metric=alert.metric,
        feature=alert.feature,
        attribute=alert.attribute,
        severity=alert.severity,
        open=alert.state != AlertState.RESOLVED,
        value=alert.value,
        threshold=alert.threshold,
        window=window,
        resolved_at=alert.resolved_at,
    )


def cause_json(cause: Cause) -> dict[str, object]:
    return {
        "kind": cause.kind,
        "subject": cause.subject,
        "incident_id": cause.incident_id,
        "strength": None if cause.strength is None else round(cause.strength, 4),
        "why": cause.why,
    }


def incident_view(names: Names, incident: Incident, counts: tuple[int, int]) -> IncidentView:
    """``counts``: (alerts, of them open)."""
    return IncidentView(
        id=incident.id,
        model=names.name_of(incident.model_id),
        state=incident.state,
        kind=incident.kind,
        cause=incident.cause,
        severity=incident.severity,
        title=incident.title,
        causes=[CauseView.model_validate(c) for c in incident.causes],
        window_start=incident.window_start,
        window_end=incident.window_end,
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        resolved_at=incident.resolved_at,
        alerts=counts[0],
        open_alerts=counts[1],
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        notes=[NoteView.model_validate(n) for n in incident.notes],
        slices=[SliceView.model_validate(s) for s in incident.slices or []],
    )


def list_incidents(session: Session, where: repository.IncidentFilter) -> IncidentPage:
    incidents = repository.list_incidents(session, where)
    counts = repository.alert_counts(session, [i.id for i in incidents])
    names = Names(session)
    items = [incident_view(names, i, counts.get(i.id, (0, 0))) for i in incidents]
    next_before = incidents[-1].id if incidents and len(incidents) == where.limit else None
    return IncidentPage(items=items, next_before=next_before)


def incidents_about(
    session: Session, model_id: int, period: tuple[datetime, datetime], limit: int
) -> IncidentPage:
    """The model's ``limit`` newest incidents about ``period`` (their span overlaps it, or they
    were open during it), newest first."""
    where = repository.IncidentFilter(
        model_id=model_id, limit=limit, active_from=period[0], active_to=period[1]
    )
    return list_incidents(session, where)


def newest_incidents(session: Session, limit: int) -> IncidentPage:
    """The ``limit`` newest incidents of every model (the status page)."""
    return list_incidents(session, repository.IncidentFilter(limit=limit))


def _incident_or_404(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist", [FieldError(None, "id", "unknown incident")])
    return incident


def incident_detail(session: Session, incident_id: int) -> IncidentDetail:
    incident = _incident_or_404(session, incident_id)
    alerts = repository.alerts_of(session, [incident.id]).get(incident.id, [])
    names = Names(session)
    counts = (len(alerts), sum(a.state != AlertState.RESOLVED for a in alerts))
    return IncidentDetail(
        incident=incident_view(names, incident, counts), alerts=[names.view(a) for a in alerts]
    )


def acknowledge(
    session: Session, incident_id: int, body: IncidentAcknowledge, now: datetime
) -> IncidentDetail:
    """Append a note (who, when, what was done); the first one marks the incident acknowledged.
    A resolved incident takes notes too: what was done is often written afterwards."""
    incident = _incident_or_404(session, incident_id)
    note = {"by": body.by, "at": now.isoformat(), "note": body.note}
    incident.notes = [*incident.notes, note]  # a new list: in-place changes of JSON are not tracked
    if incident.acknowledged_at is None:
        incident.acknowledged_at, incident.acknowledged_by = now, body.by
    session.flush()
    return incident_detail(session, incident_id)
