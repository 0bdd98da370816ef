"""Grouping firing alerts into incidents, in the alerting pass's transaction.

The pass holds the ``alerting_state`` row (``FOR UPDATE SKIP LOCKED``), so one worker groups
at a time; the partial unique index ``uq_incidents_open_cause`` (one open incident per model
and cause) would refuse a second open incident even so. Grouping is derived from the alerts'
stored state, not from this pass's events: a pass retried after a rollback regroups the same
alerts the same way, and the webhook keys (``incident:{id}:{event}``) make a resend a no-op.
The rules are in ``incident_rules``; docs/alerting.md, "Incidents", says them in words.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from service.alerting import incident_repository as repository
from service.alerting import incident_rules as rules
from service.alerting import repository as alert_repository
from service.alerting.incident_queries import cause_json, facts_of, incident_view
from service.alerting.incident_rules import IncidentState, Kind, Neighbour
from service.alerting.incident_slices import describe, top_slices
from service.alerting.notify import PassContext
from service.kernel.states import FigureStatus
from service.storage.alerting_tables import Alert, Incident
from service.webhooks import service as webhooks


def group_incidents(ctx: PassContext) -> tuple[int, int]:
    """Put every firing alert that joined no incident into one, then refresh every open
    incident (span, severity, causes) and resolve those quiet for their hold time.
    Returns (opened, resolved)."""
    incidents = repository.open_incidents(ctx.session)
    members = repository.alerts_of(ctx.session, [i.id for i in incidents])
    by_cause = {(i.model_id, i.cause): i for i in incidents}
    opened = resolved = 0
    for alert in repository.firing_ungrouped(ctx.session):
        kind, cause = rules.cause_of(alert.family, alert.feature, alert.attribute)
        incident = by_cause.get((alert.model_id, cause))
        facts = facts_of(alert)
        if incident is not None and not _absorbs(incident, members[incident.id], facts):
            _resolve(ctx, incident, members[incident.id])
            resolved += 1
            incident = None
        if incident is None:
            incident = _open(ctx, alert, kind, cause, facts)
            by_cause[(alert.model_id, cause)] = incident
            opened += 1
        alert.incident_id = incident.id
        members[incident.id].append(alert)
    still_open = [i for i in by_cause.values() if i.state == IncidentState.OPEN]
    resolved += _refresh_all(ctx, still_open, members)
    return opened, resolved


def _absorbs(incident: Incident, alerts: list[Alert], facts: rules.AlertFacts) -> bool:
    """An incident with an open alert takes the cause's new alerts; a quiet one only those
    whose window is within the gap of its own (``incident_rules.joins``)."""
    if any(facts_of(a).open for a in alerts):
        return True
    return rules.joins(rules.Span(incident.window_start, incident.window_end), facts)


def _open(ctx: PassContext, alert: Alert, kind: Kind, cause: str, facts: rules.AlertFacts) -> Incident:
    incident = Incident(
        model_id=alert.model_id,
        cause=cause,
        kind=kind.value,
        state=IncidentState.OPEN.value,
        severity=alert.severity,
        title="",
        causes=[],
        window_start=facts.window[0],
        window_end=facts.window[1],
        opened_at=ctx.now,
        updated_at=ctx.now,
        notified=False,
        notes=[],
    )
    ctx.session.add(incident)
    ctx.session.flush()
    return incident


def _refresh_all(ctx: PassContext, incidents: list[Incident], members: dict[int, list[Alert]]) -> int:
    by_model: dict[int, list[Neighbour]] = defaultdict(list)
    for incident in [*incidents, *_resolved_neighbours(ctx, incidents, members)]:
        by_model[incident.model_id].append(_neighbour(incident, members[incident.id]))
    resolved = 0
    for incident in incidents:
        alerts = members[incident.id]
        _refresh(ctx, incident, alerts, by_model[incident.model_id])
        if rules.resolves([facts_of(a) for a in alerts], ctx.now):
            _resolve(ctx, incident, alerts)
            resolved += 1
    return resolved


def _resolved_neighbours(
    ctx: PassContext, incidents: list[Incident], members: dict[int, list[Alert]]
) -> list[Incident]:
    """Resolved incidents that may still overlap an open one: a cause that ended stays a cause
    of what it overlapped (their alerts are added to ``members``)."""
    if not incidents:
        return []
    since = min(i.window_start for i in incidents)
    resolved = repository.resolved_since(ctx.session, sorted({i.model_id for i in incidents}), since)
    members.update(repository.alerts_of(ctx.session, [i.id for i in resolved]))
    return resolved


def _neighbour(incident: Incident, alerts: list[Alert]) -> Neighbour:
    facts = [facts_of(a) for a in alerts]
    span = rules.Span(incident.window_start, incident.window_end)
    if facts:
        now = rules.span_of(facts)
        span = rules.Span(min(span.start, now.start), max(span.end, now.end))
    return Neighbour(incident.id, Kind(incident.kind), incident.cause, span, facts)


def _refresh(ctx: PassContext, incident: Incident, alerts: list[Alert], neighbours: list[Neighbour]) -> None:
    """Span, severity, quiet time, ranked causes and title from its alerts; incident.opened
    once an alert in it is not silenced. Only a real change moves ``updated_at``."""
    own = _neighbour(incident, alerts)
    facts = own.alerts
    held = own.kind is Kind.PERFORMANCE and _estimate_held(ctx, incident, own.span)
    ranked = rules.rank_causes(own.kind, own.span, neighbours, own, estimate_held=held)
    causes = [cause_json(c) for c in ranked]
    moved = (own.span.start, own.span.end) != (incident.window_start, incident.window_end)
    if own.kind is Kind.PERFORMANCE and (incident.slices is None or moved):
        incident.slices = top_slices(ctx.session, alerts, (own.span.start, own.span.end))
    values: dict[str, Any] = {
        # The union over time (``_neighbour``): an alert's stored window moves with every window.
        "window_start": own.span.start,
        "window_end": own.span.end,
        "severity": rules.severity_of(facts),
        "quiet_since": rules.quiet_since(facts),
        "causes": causes,
        "title": _title(ctx, incident, alerts, causes),
    }
    changed = {k: v for k, v in values.items() if getattr(incident, k) != v}
    for name, value in changed.items():
        setattr(incident, name, value)
    if changed:
        incident.updated_at = ctx.now
    if not incident.notified and any(a.silenced_by is None for a in alerts):
        incident.notified = _send(ctx, incident, alerts, "incident.opened")


def _estimate_held(ctx: PassContext, incident: Incident, span: rules.Span) -> bool:
    """The label-free performance estimate was judged ok in the span's windows and never alerted
    (an estimate that was only ever insufficient says nothing)."""
    family = "estimated_performance"
    seen = alert_repository.statuses_in(ctx.session, incident.model_id, family, span.start, span.end)
    return FigureStatus.OK in seen and FigureStatus.ALERT not in seen


def _title(ctx: PassContext, incident: Incident, alerts: list[Alert], causes: list[dict[str, Any]]) -> str:
    """E.g. "credit: performance (accuracy, roc_auc); likely cause: input income drifted"."""
    metrics = ", ".join(sorted({a.metric for a in alerts}))
    subject = incident.cause.replace(":", " ", 1)
    text = f"{ctx.name_of(incident.model_id)}: {subject} ({metrics})"
    top = causes[0] if causes else None
    if top is not None and incident.kind == Kind.FAIRNESS and top["kind"] == "input":
        # Nothing ties a group gap to an input's shift (no per-group drift yet): say what moved.
        drifted = ", ".join(str(c["subject"]) for c in causes if c["kind"] == "input")
        return f"{text}; inputs drifting meanwhile: {drifted}"[:1000]
    if top is not None and incident.kind in (Kind.PERFORMANCE, Kind.FAIRNESS):
        lead = {
            "data": "data quality broke",
            "concept": "concept shift (the label-free estimate held)",
            "input": f"input {top['subject']} drifted",
        }
        text += f"; likely cause: {lead.get(str(top['kind']), 'no input moved')}"
    if incident.kind == Kind.PERFORMANCE and incident.slices:
        text += f"; worst slice: {describe(incident.slices[0])}"
    return text[:1000]


def _resolve(ctx: PassContext, incident: Incident, alerts: list[Alert]) -> None:
    incident.state, incident.resolved_at, incident.updated_at = IncidentState.RESOLVED.value, ctx.now, ctx.now
    ctx.session.flush()  # leaves the partial unique index before another opens for the cause
    if incident.notified:  # a receiver never hears of an end it did not see begin
        _send(ctx, incident, alerts, "incident.resolved")


def _send(ctx: PassContext, incident: Incident, alerts: list[Alert], event_type: str) -> bool:
    """The outbox row of an incident event, in this transaction (a retry's key is a no-op)."""
    counts = (len(alerts), sum(facts_of(a).open for a in alerts))
    view = incident_view(ctx, incident, counts)
    links = {
        "incident": f"{ctx.base_url}/v1/incidents/{incident.id}",
        "ui": f"{ctx.base_url}/ui/incidents/{incident.id}",
    }
    data = {"incident": view.model_dump(mode="json"), "alert_ids": [a.id for a in alerts], "links": links}
    key = f"incident:{incident.id}:{event_type}"
    webhooks.enqueue(ctx.session, event_type=event_type, data=data, now=ctx.now, idempotency_key=key)
    return True
