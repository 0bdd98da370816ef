"""Alert views, transitions and their notifications (webhook outbox rows, muted by silences)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from service.alerting import repository
from service.alerting.labels import alert_labels
from service.alerting.schemas import AlertView
from service.alerting.silencing import ActiveSilence, matchers_of, muting
from service.alerting.states import AlertState
from service.registry import queries as registry
from service.storage.alerting_tables import Alert, AlertTransition
from service.webhooks import service as webhooks


@dataclass
class Names:
    """Model and version names by id, read once per transaction (alerts store ids)."""

    session: Session
    models: dict[int, str] = field(default_factory=dict)
    versions: dict[int, str] = field(default_factory=dict)

    def name_of(self, model_id: int) -> str:
        if model_id not in self.models:
            self.models.update(registry.model_names(self.session, [model_id]))
        return self.models.get(model_id, str(model_id))

    def version_of(self, version_id: int | None) -> str | None:
        if version_id is None:
            return None
        if version_id not in self.versions:
            self.versions.update(registry.version_names(self.session, [version_id]))
        return self.versions.get(version_id)

    def labels(self, alert: Alert) -> dict[str, str]:
        return labels_of(alert, self.name_of(alert.model_id), self.version_of(alert.version_id))

    def view(self, alert: Alert) -> AlertView:
        return view_of(alert, self.name_of(alert.model_id), self.version_of(alert.version_id))


@dataclass(kw_only=True)
class PassContext(Names):
    """What one alerting pass shares: the transaction, its time, silences and names."""

    now: datetime
    base_url: str
    silences: list[ActiveSilence] = field(default_factory=list)
    fired: int = 0
    resolved: int = 0
    notified: int = 0

    def load_silences(self) -> None:
        self.silences = [
            ActiveSilence(s.id, matchers_of(s.matchers), s.starts_at, s.ends_at)
            for s in repository.active_silences(self.session, self.now)
        ]


def labels_of(alert: Alert, model: str, version: str | None) -> dict[str, str]:
    return alert_labels(
        family=alert.family,
        model=model,
        version=version,
        metric=alert.metric,
        feature=alert.feature,
        attribute=alert.attribute,
        group=alert.group,
        severity=alert.severity,
    )


def view_of(alert: Alert, model: str, version: str | None) -> AlertView:
    return AlertView.model_validate(
        {
            **{c: getattr(alert, c) for c in _PLAIN_COLUMNS},
            "labels": labels_of(alert, model, version),
            "model": model,
            "version": version,
            "feature": alert.feature or None,
            "attribute": alert.attribute or None,
            "group": alert.group or None,
        }
    )


_PLAIN_COLUMNS = [
    "id",
    "fingerprint",
    "state",
    "severity",
    "family",
    "metric",
    "value",
    "threshold",
    "resolve_threshold",
    "window_start",
    "window_end",
    "summary",
    "started_at",
    "fired_at",
    "resolved_at",
    "silenced_by",
    "acknowledged_at",
    "acknowledged_by",
    "acknowledge_comment",
    "incident_id",
]


def event_data(ctx: PassContext, alert: Alert) -> dict[str, Any]:
    """The ``data`` of an ``alert.firing`` / ``alert.resolved`` webhook (docs/alerting.md)."""
    model = ctx.name_of(alert.model_id)
    view = ctx.view(alert)
    links = {"alert": f"{ctx.base_url}/v1/alerts/{alert.id}"}
    if alert.window_start is not None and alert.window_end is not None:
        query = {
            "family": alert.family,
            "from": alert.window_start.isoformat(),
            "to": alert.window_end.isoformat(),
        }
        links["evaluations"] = f"{ctx.base_url}/v1/models/{model}/evaluations?{urlencode(query)}"
    return {"alert": view.model_dump(mode="json"), "links": links}


def record(
    ctx: PassContext, alert: Alert, from_state: str, to_state: str, window_end: datetime | None
) -> AlertTransition:
    """Store a transition; firing and resolved ones notify unless a silence mutes the alert.

    A resolve whose firing was never notified (muted throughout) sends nothing either: a
    receiver must not learn of an end it never saw begin.
    """
    alert.silenced_by = muting(ctx.silences, ctx.labels(alert), ctx.now)
    transition = AlertTransition(
        alert_id=alert.id,
        from_state=from_state,
        to_state=to_state,
        at=ctx.now,
        window_end=window_end,
        value=alert.value,
        silenced_by=alert.silenced_by,
        notified=False,
    )
    if to_state in (AlertState.FIRING, AlertState.RESOLVED) and alert.silenced_by is None:
        unseen = (
            to_state == AlertState.RESOLVED
            and repository.firing_unnotified(ctx.session, alert.id) is not None
        )
        if not unseen:
            transition.notified = send(ctx, alert, f"alert.{to_state}")
    ctx.session.add(transition)
    return transition


def send(ctx: PassContext, alert: Alert, event_type: str) -> bool:
    """Write the webhook outbox row (once per alert and event: the key makes a retry a no-op)."""
    webhooks.enqueue(
        ctx.session,
        event_type=event_type,
        data=event_data(ctx, alert),
        now=ctx.now,
        idempotency_key=f"alert:{alert.id}:{event_type}",
    )
    ctx.notified += 1
    return True


def refresh_muting(ctx: PassContext, open_alerts: list[Alert]) -> None:
    """Apply the silences in force now to every firing alert.

    A newly created silence mutes an alert that already fired (it is no longer pushed to
    Alertmanager). An alert whose silence ended is unmuted, and a firing it could not
    notify is notified now.
    """
    for alert in open_alerts:
        if alert.state != AlertState.FIRING:
            continue
        was, alert.silenced_by = alert.silenced_by, muting(ctx.silences, ctx.labels(alert), ctx.now)
        if was is not None and alert.silenced_by is None:
            unsent = repository.firing_unnotified(ctx.session, alert.id)
            if unsent is not None:
                unsent.notified = send(ctx, alert, "alert.firing")
