"""SQL of the metrics snapshot: what ``/metrics`` reads from the database, every
``metrics_cache_seconds`` at most, whatever the number of scrapes.

Each read is an index look-up or a scan of the newest window runs only, so a snapshot of
100 models costs a few tens of milliseconds (``benchmarks/metrics.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.aggregation.repository import STREAM
from service.alerting.states import AlertState
from service.storage.alerting_tables import Alert, ModelActivity
from service.storage.engine_tables import AggregationState, Evaluation, WindowRun, WindowTask
from service.storage.event_tables import Prediction
from service.storage.registry_tables import Model, ModelVersion
from service.storage.webhook_tables import WebhookDelivery
from service.webhooks.states import DeliveryState

# Figure rows read per query: under SQLite's bound-parameter limit.
RUN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LatestRun:
    """The newest evaluated window of one version (its latest revision)."""

    run_id: int
    model: str
    version: str
    window_end: datetime
    rows: int
    labelled: int
    computed_at: datetime
    label_coverage: float | None = None


@dataclass(frozen=True, slots=True)
class FigureRow:
    run_id: int
    family: str
    metric: str
    feature: str
    attribute: str
    group: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    status: str


def models(session: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in session.execute(select(Model.id, Model.name))}


def latest_runs(session: Session) -> list[LatestRun]:
    """Per version, the latest revision of its newest evaluated window."""
    newest = (
        select(WindowRun.version_id, func.max(WindowRun.window_end).label("end"))
        .where(WindowRun.latest.is_(True))
        .group_by(WindowRun.version_id)
        .subquery()
    )
    query = (
        select(WindowRun, Model.name, ModelVersion.version)
        .join(newest, (newest.c.version_id == WindowRun.version_id) & (newest.c.end == WindowRun.window_end))
        .join(ModelVersion, ModelVersion.id == WindowRun.version_id)
        .join(Model, Model.id == WindowRun.model_id)
        .where(WindowRun.latest.is_(True))
    )
    return [
        LatestRun(
            run.id,
            str(name),
            str(version),
            run.window_end,
            run.rows,
            run.labelled,
            run.computed_at,
            run.label_coverage,
        )
        for run, name, version in session.execute(query)
    ]


def figures(session: Session, run_ids: Sequence[int]) -> list[FigureRow]:
    columns = (
        Evaluation.run_id, Evaluation.family, Evaluation.metric, Evaluation.feature, Evaluation.attribute,
        Evaluation.group, Evaluation.value, Evaluation.ci_low, Evaluation.ci_high, Evaluation.n,
        Evaluation.status,
    )  # fmt: skip
    found: list[FigureRow] = []
    for i in range(0, len(run_ids), RUN_CHUNK):
        query = select(*columns).where(Evaluation.run_id.in_(run_ids[i : i + RUN_CHUNK]))
        found.extend(FigureRow(*row) for row in session.execute(query))
    return found


def firing_alerts(session: Session) -> list[tuple[int, str, int]]:
    """(model id, severity, count) of firing alerts, silenced ones included (they still fire)."""
    query = (
        select(Alert.model_id, Alert.severity, func.count())
        .where(Alert.state == AlertState.FIRING)
        .group_by(Alert.model_id, Alert.severity)
    )
    return [(int(m), str(s), int(c)) for m, s, c in session.execute(query)]


def newest_event_times(session: Session) -> dict[int, datetime | None]:
    """Each model's newest prediction time, in one statement: a correlated max per model is a
    backward probe of ``(model_id, event_time)`` (a GROUP BY would scan the whole index)."""
    newest = (
        select(func.max(Prediction.event_time))
        .where(Prediction.model_id == Model.id)
        .correlate(Model)
        .scalar_subquery()
    )
    return {int(model_id): at for model_id, at in session.execute(select(Model.id, newest))}


def last_received(session: Session) -> dict[int, datetime]:
    """When each model's newest prediction was received, as the alerting job last recorded it."""
    query = select(ModelActivity.model_id, ModelActivity.last_received_at)
    return {int(m): at for m, at in session.execute(query)}


def oldest_due_window_ends(session: Session, now: datetime) -> dict[int, datetime]:
    """Per model, the end of the oldest due window still waiting for evaluation."""
    query = (
        select(WindowTask.model_id, func.min(WindowTask.window_end))
        .where(WindowTask.wanted > WindowTask.done, WindowTask.window_end <= now)
        .group_by(WindowTask.model_id)
    )
    return {int(m): end for m, end in session.execute(query)}


def aggregation_state(session: Session) -> AggregationState | None:
    return session.get(AggregationState, STREAM)


def first_unfolded_received_at(session: Session, watermark: int) -> datetime | None:
    """When the oldest prediction not yet aggregated was received (a primary-key look-up)."""
    query = select(Prediction.received_at).where(Prediction.id > watermark).order_by(Prediction.id).limit(1)
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result


def newest_run_computed_at(session: Session) -> datetime | None:
    query = select(WindowRun.computed_at).order_by(WindowRun.id.desc()).limit(1)
    result: datetime | None = session.execute(query).scalar_one_or_none()
    return result


def webhook_deliveries(session: Session, states: Sequence[DeliveryState]) -> dict[str, int]:
    """The number of deliveries in each of ``states``, by state (states without one left out)."""
    query = (
        select(WebhookDelivery.state, func.count())
        .where(WebhookDelivery.state.in_(states))
        .group_by(WebhookDelivery.state)
    )
    return {str(s): int(c) for s, c in session.execute(query)}
