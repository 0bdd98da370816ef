"""The status page's incidents: ``/ui/incidents`` (newest first) and ``/ui/incidents/{id}``
(its likely causes, its alerts, the notes of who acknowledged it and what was done). Every
value passes through ``e`` (html.escape) like the other pages."""

from __future__ import annotations

from datetime import datetime

from service.alerting.incident_rules import IncidentState
from service.alerting.incident_schemas import CauseView, IncidentDetail, IncidentPage, IncidentView
from service.alerting.incident_slices import cell_text
from service.alerting.schemas import AlertView
from service.ui.charts import fmt
from service.ui.pages import ago, e, empty, layout, model_href, pill, stamp, table

LISTED = 200  # incidents on the list page; older ones through the API's paging


def _state(incident: IncidentView) -> str:
    return pill("firing" if incident.state == IncidentState.OPEN and incident.open_alerts else incident.state)


def _row(incident: IncidentView, root: str, now: datetime) -> str:
    age = ago((now - incident.opened_at).total_seconds())
    ack = e(incident.acknowledged_by) if incident.acknowledged_by else '<span class="subtle">—</span>'
    return (
        f'<tr class="incident" data-incident-id="{incident.id}">'
        f'<td><a href="{e(root)}/ui/incidents/{incident.id}">#{incident.id}</a></td>'
        f"<td>{_state(incident)}</td><td>{pill(incident.severity)}</td>"
        f'<td><a href="{e(model_href(root, incident.model))}">{e(incident.model)}</a></td>'
        f'<td>{e(incident.title)}</td><td class="num">{incident.alerts}</td>'
        f'<td class="time">{stamp(incident.opened_at)} <span class="subtle">({age})</span></td>'
        f"<td>{ack}</td></tr>"
    )


def list_page(page: IncidentPage, root: str, now: datetime, csrf: str | None = None) -> str:
    rows = (
        table(
            ("Incident", "State", "Severity", "Model", "Summary", "Alerts", "Opened (UTC)", "Acknowledged"),
            (_row(i, root, now) for i in page.items),
            "incidents",
        )
        if page.items
        else empty("No incident yet: no alert has fired.")
    )
    note = (
        '<p class="lead">Firing alerts of one model that share a cause (data, one input, performance, '
        "or one protected attribute) and whose windows overlap form one incident; it resolves once all "
        "its alerts have stayed resolved for a window's length.</p>"
    )
    body = f"<h1>Incidents</h1>{note}{rows}"
    return layout("Incidents", body, root, csrf)


def _cause_item(cause: CauseView, root: str, own: int) -> str:
    link = ""
    if cause.incident_id is not None and cause.incident_id != own:
        link = f' <a href="{e(root)}/ui/incidents/{cause.incident_id}">incident #{cause.incident_id}</a>'
    subject = f"<strong>{e(cause.subject)}</strong> · " if cause.subject else ""
    return f'<li class="cause" data-cause-kind="{e(cause.kind)}">{subject}{e(cause.why)}{link}</li>'


def _alert_row(alert: AlertView) -> str:
    subject = " ".join(p for p in (alert.feature, alert.attribute, alert.group) if p) or "—"
    return (
        f'<tr class="alert" data-alert-id="{alert.id}" title="{e(alert.summary)}">'
        f"<td>{pill(alert.state)}</td><td>{e(alert.family)}</td><td>{e(alert.metric)}</td>"
        f'<td>{e(subject)}</td><td>{pill(alert.severity)}</td><td class="num">{e(fmt(alert.value))}</td>'
        f'<td class="num">{e(fmt(alert.threshold))}</td><td class="time">{stamp(alert.fired_at)}</td>'
        f'<td class="time">{stamp(alert.resolved_at)}</td></tr>'
    )


def _notes(incident: IncidentView) -> str:
    if not incident.notes:
        return empty(
            "Not acknowledged yet. <code>POST /v1/incidents/{id}/acknowledge</code> with "
            "<code>{&quot;by&quot;: …, &quot;note&quot;: …}</code> records who handles it and what was done."
        )
    items = "".join(
        f'<li class="ack-note"><strong>{e(n.by)}</strong> <span class="subtle">{stamp(n.at)} UTC</span>: '
        f"{e(n.note)}</li>"
        for n in incident.notes
    )
    return f'<ul class="notes">{items}</ul>'


def _slices(incident: IncidentView) -> str:
    """A performance incident's top failing slices over its span (alerting/incident_slices.py)."""
    if not incident.slices:
        return ""
    items = "".join(
        '<li class="incident-slice">'
        + " &amp; ".join(f"<strong>{e(cell_text(c.kind, c.column, c.value))}</strong>" for c in s.slice)
        + f' <span class="subtle">{e(s.metric)} {e(fmt(s.value))} ({e(fmt(s.ci_low))} – {e(fmt(s.ci_high))})'
        + f" vs {e(fmt(s.rest_value))} for the rest, n = {s.n}, q = {s.q_value:.2g}</span></li>"
        for s in incident.slices
    )
    return f'<h2>Failing slices, worst first</h2><ol class="slices">{items}</ol>'


def detail_page(detail: IncidentDetail, root: str, now: datetime, csrf: str | None = None) -> str:
    incident = detail.incident
    causes = "".join(_cause_item(c, root, incident.id) for c in incident.causes) or "<li>—</li>"
    age = ago((now - incident.opened_at).total_seconds())
    meta = [
        f"state {_state(incident)}",
        f"severity {pill(incident.severity)}",
        f'model <a href="{e(model_href(root, incident.model))}">{e(incident.model)}</a>',
        f"cause <strong>{e(incident.cause)}</strong>",
        f"windows <strong>{stamp(incident.window_start)} → {stamp(incident.window_end)}</strong>",
        f"opened <strong>{stamp(incident.opened_at)}</strong> ({age})",
        f"resolved <strong>{stamp(incident.resolved_at)}</strong>",
    ]
    alerts = table(
        (
            "State",
            "Family",
            "Metric",
            "Subject",
            "Severity",
            "Value",
            "Threshold",
            "Fired (UTC)",
            "Resolved (UTC)",
        ),
        (_alert_row(a) for a in detail.alerts),
        "alerts incident-alerts",
    )
    body = (
        f'<p class="subtle"><a href="{e(root)}/ui/incidents">Incidents</a> / #{incident.id}</p>'
        f'<h1 data-incident="{incident.id}">Incident #{incident.id}</h1>'
        f'<p class="lead" data-title>{e(incident.title)}</p>'
        f'<div class="meta">{"".join(f"<span>{m}</span>" for m in meta)}</div>'
        f'<h2>Likely causes, most likely first</h2><ol class="causes">{causes}</ol>{_slices(incident)}'
        f"<h2>Alerts ({len(detail.alerts)})</h2>{alerts}"
        f"<h2>Acknowledgements</h2>{_notes(incident)}"
    )
    return layout(f"Incident #{incident.id}", body, root, csrf)
