"""One snapshot of everything ``/metrics`` reads from the database, in one transaction.

Stored state, not process state: every replica reading the same database exports the same
values, so dashboards and rules aggregate these with ``max by (...)`` (docs/metrics.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation
from service.alerting import queries as alerting
from service.export import repository
from service.export.families import Budget, Family, ModelFamilies, families_of
from service.ingestion import queries as events
from service.monitors.queries import all_configs
from service.registry import queries as registry
from service.webhooks import queries as webhooks
from service.webhooks.states import DeliveryState
from service.windows import queries as windows

SEVERITIES = ("warning", "critical")
# Deliveries waiting for an attempt and dead-lettered ones.
WEBHOOK_STATES = (DeliveryState.PENDING, DeliveryState.DEAD)

STORED_FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("modelmon_models", "Registered models.", ()),
    ("modelmon_alerts_firing", "Firing alerts by severity, silenced ones included.", ("model", "severity")),
    ("modelmon_incidents_open", "Open incidents (firing alerts grouped by cause).", ("model",)),
    ("modelmon_model_last_event_timestamp_seconds", "Event time of the newest prediction.", ("model",)),
    ("modelmon_model_last_received_timestamp_seconds", "When the newest prediction arrived.", ("model",)),
    ("modelmon_model_evaluation_lag_seconds", "Wait of the oldest due window; 0 when none.", ("model",)),
    ("modelmon_job_lag_seconds", "Age of the oldest work a job has not done; 0 when none.", ("job",)),
    ("modelmon_job_last_run_timestamp_seconds", "When a job last stored its work.", ("job",)),
    ("modelmon_webhook_queue_deliveries", "Webhook deliveries pending or dead-lettered.", ("state",)),
)


def _seconds(later: datetime, earlier: datetime | None) -> float:
    return 0.0 if earlier is None else max((later - earlier).total_seconds(), 0.0)


def _configured_features(configs: dict[int, dict[str, Any]]) -> dict[int, frozenset[str]]:
    found: dict[int, frozenset[str]] = {}
    for model_id, config in configs.items():
        drift = config.get("drift") if isinstance(config, dict) else None
        features = drift.get("features") if isinstance(drift, dict) else None
        found[model_id] = frozenset(str(f) for f in features or ())
    return found


def _model_health(session: Session, models: dict[int, str], budget: Budget) -> list[Family]:
    runs = repository.latest_runs(session)
    rows_by_run: dict[int, list[repository.FigureRow]] = defaultdict(list)
    for row in repository.figures(session, [run.run_id for run in runs]):
        rows_by_run[row.run_id].append(row)
    configured = _configured_features(all_configs(session))
    ids = {name: model_id for model_id, name in models.items()}
    health = ModelFamilies(budget)
    for run in runs:
        health.add_run(run, rows_by_run[run.run_id], configured.get(ids[run.model], frozenset()))
    return list(health.by_name.values())


def _per_model(
    session: Session, models: dict[int, str], now: datetime, due: dict[int, datetime]
) -> dict[str, Family]:
    families = families_of(STORED_FAMILIES)
    families["modelmon_models"].add((), len(models))
    firing = {(m, s): c for m, s, c in alerting.firing_counts(session)}
    incidents = alerting.open_incident_counts(session)
    received = alerting.last_received(session)
    newest_events = repository.newest_event_times(session)
    for model_id, name in models.items():
        for severity in SEVERITIES:
            families["modelmon_alerts_firing"].add((name, severity), firing.get((model_id, severity), 0))
        families["modelmon_incidents_open"].add((name,), incidents.get(model_id, 0))
        newest = newest_events.get(model_id)
        families["modelmon_model_last_event_timestamp_seconds"].add(
            (name,), None if newest is None else newest.timestamp()
        )
        arrived = received.get(model_id)
        families["modelmon_model_last_received_timestamp_seconds"].add(
            (name,), None if arrived is None else arrived.timestamp()
        )
        families["modelmon_model_evaluation_lag_seconds"].add((name,), _seconds(now, due.get(model_id)))
    return families


def _jobs(session: Session, families: dict[str, Family], now: datetime, due: Sequence[datetime]) -> None:
    state = aggregation.progress(session)
    families["modelmon_job_lag_seconds"].add(("aggregation",), _seconds(now, _first_unfolded(session)))
    families["modelmon_job_lag_seconds"].add(("evaluation",), _seconds(now, min(due, default=None)))
    last_run = windows.newest_run_computed_at(session)
    last_pass = None if state is None else state.updated_at
    for job, at in (("aggregation", last_pass), ("evaluation", last_run)):
        stamp = None if at is None else at.timestamp()
        families["modelmon_job_last_run_timestamp_seconds"].add((job,), stamp)
    queued = webhooks.delivery_counts(session, WEBHOOK_STATES)
    for name in WEBHOOK_STATES:
        families["modelmon_webhook_queue_deliveries"].add((name,), queued.get(name, 0))


def _first_unfolded(session: Session) -> datetime | None:
    """When the oldest prediction not yet folded (of any model) was received: one index look-up
    per model past its own cursor (~0.1 ms each; past 0 for a model without one yet), so a
    model that is behind does not date another's folded events."""
    cursors = aggregation.model_progress(session)
    found = [
        events.first_unfolded_received_at(
            session, cursors[model_id].prediction_watermark if model_id in cursors else 0, model_id
        )
        for model_id in registry.model_ids(session)
    ]
    return min((at for at in found if at is not None), default=None)


def read_snapshot(session: Session, now: datetime, budget: Budget) -> list[Family]:
    """Every stored gauge, read in ``session`` (one transaction)."""
    models = registry.all_model_names(session)
    due = windows.oldest_due_window_ends(session, now)
    stored = _per_model(session, models, now, due)
    _jobs(session, stored, now, list(due.values()))
    return [*stored.values(), *_model_health(session, models, budget)]
