"""Pushing alert states to Alertmanager (``POST /api/v2/alerts``).

Alertmanager forgets an alert whose ``endsAt`` has passed, so firing alerts are re-sent every
``alertmanager_resend_seconds`` with ``endsAt`` = now + 4 × that interval: if modelmon stops
sending (down, partitioned), Alertmanager resolves them by itself after four missed rounds
(4 minutes at the default 60 s) instead of keeping them firing forever. A resolved alert is
sent once with ``endsAt`` = its ``resolved_at``.

Silenced alerts are never pushed: a modelmon silence mutes every notification, Alertmanager's
included. The labels are :func:`service.alerting.labels.alert_labels`, the same set the shipped
Prometheus rules carry, so the two sources deduplicate in Alertmanager.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from service.alerting import repository
from service.alerting.labels import alert_labels
from service.alerting.states import AlertState
from service.clock import Clock
from service.config import Settings
from service.kernel.instruments import ALERTMANAGER_PUSHES
from service.kernel.job import JobTiming
from service.registry import queries as registry
from service.storage.alerting_tables import Alert
from service.storage.database import unit_of_work
from service.webhooks.service import iso_utc

log = logging.getLogger("modelmon.alertmanager")

# endsAt of a firing alert, in resend intervals: three pushes may be lost before
# Alertmanager resolves the alert on its own.
ENDS_AFTER_RESENDS = 4
JOB_NAME = "alertmanager"
PUSH_PATH = "/api/v2/alerts"
INCIDENT_LABEL = "incident"


@dataclass(frozen=True, slots=True)
class AlertForPush:
    """What one pushed alert says; absent subjects are '' as in the ``alerts`` table."""

    id: int
    model: str
    version: str | None
    family: str
    metric: str
    feature: str
    attribute: str
    group: str
    severity: str
    state: str  # "firing" or "resolved"
    summary: str
    value: float | None
    threshold: float | None
    fired_at: datetime | None
    resolved_at: datetime | None
    window_start: datetime | None = None
    window_end: datetime | None = None
    incident: int | None = None  # the incident it joined (service/alerting/incidents.py)


# ---------------------------------------------------------------- payload (pure)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _description(alert: AlertForPush) -> str:
    text = f"value {_number(alert.value)}, threshold {_number(alert.threshold)}"
    if alert.window_start is not None and alert.window_end is not None:
        text += f", window [{iso_utc(alert.window_start)}, {iso_utc(alert.window_end)})"
    return text


def _one(alert: AlertForPush, base_url: str, firing_ends_at: datetime) -> dict[str, Any]:
    labels = alert_labels(
        family=alert.family,
        model=alert.model,
        version=alert.version,
        metric=alert.metric,
        feature=alert.feature,
        attribute=alert.attribute,
        group=alert.group,
        severity=alert.severity,
    )
    if alert.incident is not None:
        # Alertmanager groups by labels only: `group_by: [model, incident]` sends one
        # notification per incident instead of one per alert (docs/alerting.md).
        labels[INCIDENT_LABEL] = str(alert.incident)
    ends_at = firing_ends_at
    if alert.state == AlertState.RESOLVED and alert.resolved_at is not None:
        ends_at = alert.resolved_at
    item: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": alert.summary,
            "description": _description(alert),
            "modelmon_alert_id": str(alert.id),
        },
        "endsAt": iso_utc(ends_at),
        "generatorURL": f"{base_url.rstrip('/')}/v1/alerts/{alert.id}",
    }
    if alert.fired_at is not None:
        item["startsAt"] = iso_utc(alert.fired_at)
    return item


def alertmanager_payload(
    alerts: Sequence[AlertForPush], base_url: str, *, now: datetime, resend_seconds: float
) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts`` for ``alerts``.

    Firing alerts end at ``now`` + 4 × ``resend_seconds`` (renewed by every push); resolved
    ones at their ``resolved_at``, which Alertmanager reads as resolved.
    """
    firing_ends_at = now + timedelta(seconds=ENDS_AFTER_RESENDS * resend_seconds)
    return [_one(alert, base_url, firing_ends_at) for alert in alerts]


# ---------------------------------------------------------------- selection


def alerts_to_push(session: Session, *, resolved_since: datetime) -> list[AlertForPush]:
    """Firing alerts not silenced, and alerts resolved at or after ``resolved_since`` that were
    not silenced, in id order."""
    alerts = repository.alerts_to_push(session, resolved_since)
    # Two look-ups for the whole list. Alerts go with their model (ON DELETE CASCADE); a
    # version id may name a version no longer registered, and then the version is None.
    models = registry.model_names(session, sorted({a.model_id for a in alerts}))
    versions = registry.version_names(session, sorted({a.version_id for a in alerts if a.version_id}))
    return [
        _for_push(alert, models[alert.model_id], versions.get(alert.version_id or 0))
        for alert in alerts
        if alert.model_id in models
    ]


def _for_push(alert: Alert, model: str, version: str | None) -> AlertForPush:
    return AlertForPush(
        id=alert.id,
        model=model,
        version=version,
        family=alert.family,
        metric=alert.metric,
        feature=alert.feature,
        attribute=alert.attribute,
        group=alert.group,
        severity=alert.severity,
        state=alert.state,
        summary=alert.summary,
        value=alert.value,
        threshold=alert.threshold,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        window_start=alert.window_start,
        window_end=alert.window_end,
        incident=alert.incident_id,
    )


# ---------------------------------------------------------------- the job


class AlertmanagerSync:
    """Pushes alert states to ``settings.alertmanager_url``; the worker calls :meth:`run_once`
    every round.

    In memory only (any worker may run one; pushing the same state twice is harmless, as
    Alertmanager deduplicates by label set): the last successful push time, the firing set
    it carried, and the resolved alerts already sent. A fresh process sends the alerts
    resolved in the last 4 × resend interval, so a resolution is not lost across a restart.
    """

    name = JOB_NAME

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        client: httpx.Client | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self._given_client = client
        self._own_client: httpx.Client | None = None
        self.last_push: datetime | None = None
        self._firing: frozenset[tuple[int, str]] = frozenset()
        self._resolved_sent: set[int] = set()
        self.timing = JobTiming(JOB_NAME, clock)

    @property
    def client(self) -> httpx.Client:
        """The HTTP client (the given one, else one made on the first push). Made lazily: an
        httpx client loads the CA bundle into a TLS context, ~25 ms of CPU, which every worker
        and job runner paid at start although most have no Alertmanager configured."""
        if self._given_client is not None:
            return self._given_client
        if self._own_client is None:
            self._own_client = httpx.Client(timeout=self.settings.http_timeout_seconds)
        return self._own_client

    @property
    def resend(self) -> timedelta:
        return timedelta(seconds=self.settings.alertmanager_resend_seconds)

    def run_once(self) -> int:
        """Push if the alert set changed or the resend interval passed; returns how many alerts
        were pushed (0: nothing due, no Alertmanager configured, or the push failed)."""
        url = self.settings.alertmanager_url
        if url is None:
            return 0
        started = self.timing.start()
        with self.timing.counting_failures():
            pushed = self._sync(url, started)
        if pushed is None:  # the push failed (logged): a failed run like one that raised
            self.timing.failed()
            return 0
        self.timing.succeeded(self.timing.elapsed(started))
        return pushed

    def _sync(self, url: str, now: datetime) -> int | None:
        """How many alerts were pushed, or None when the push failed."""
        firing, resolved = self._select(now)
        firing_key = frozenset((alert.id, alert.severity) for alert in firing)
        due = self.last_push is None or now - self.last_push >= self.resend
        if not firing and not resolved:
            self._firing = firing_key
            return 0
        if not due and not resolved and firing_key == self._firing:
            return 0
        if not self._push(url, [*firing, *resolved], now):
            return None
        self.last_push = now
        self._firing = firing_key
        self._resolved_sent.update(alert.id for alert in resolved)
        return len(firing) + len(resolved)

    def _select(self, now: datetime) -> tuple[list[AlertForPush], list[AlertForPush]]:
        """(firing, resolved and not yet sent). Resolutions are looked up over the last
        4 × resend, not since the last push, so one committed late is still found."""
        since = now - ENDS_AFTER_RESENDS * self.resend
        with unit_of_work(self.sessions) as session:
            alerts = alerts_to_push(session, resolved_since=since)
        recent = {alert.id for alert in alerts if alert.state == AlertState.RESOLVED}
        self._resolved_sent &= recent  # forget what fell out of the look-back
        firing = [alert for alert in alerts if alert.state == AlertState.FIRING]
        resolved = [a for a in alerts if a.state == AlertState.RESOLVED and a.id not in self._resolved_sent]
        return firing, resolved

    def _push(self, url: str, alerts: list[AlertForPush], now: datetime) -> bool:
        body = alertmanager_payload(
            alerts, self.settings.base_url, now=now, resend_seconds=self.settings.alertmanager_resend_seconds
        )
        try:
            response = self.client.post(
                url.rstrip("/") + PUSH_PATH, json=body, timeout=self.settings.http_timeout_seconds
            )
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            excerpt = error.response.text[:300]
            log.warning("alertmanager push failed: HTTP %s %s", error.response.status_code, excerpt)
        except httpx.HTTPError as error:
            log.warning("alertmanager push failed: %s: %s", type(error).__name__, error)
        else:
            ALERTMANAGER_PUSHES.labels(outcome="ok").inc()
            return True
        ALERTMANAGER_PUSHES.labels(outcome="error").inc()
        return False

    def close(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None
