"""SQL of the status pages: models, their newest windows, stored figures and alerts, and the
engine's backlog. Read-only; every query is bounded (a row limit or the run ids of one page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from alembic.runtime.migration import MigrationContext
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from service.alerting.states import OPEN_STATES
from service.storage.alerting_tables import Alert
from service.storage.engine_tables import AggregationState, Evaluation, WindowRun, WindowTask
from service.storage.registry_tables import Model, ModelVersion

PERFORMANCE_FAMILIES = ("performance", "estimated_performance")
FAIRNESS_METRICS = ("selection_rate", "disparate_impact_ratio")


class FigureRecord(NamedTuple):
    """A row of the charted figures (a named tuple: pages read ~3,000 of them, built in C)."""

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
    threshold: float | None
    status: str


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert: Alert
    model: str
    version: str | None


def models(session: Session) -> list[tuple[int, str, list[str]]]:
    """(id, name, version names in registration order) of every model, by name."""
    rows = session.execute(
        select(Model.id, Model.name, ModelVersion.version)
        .outerjoin(ModelVersion, ModelVersion.model_id == Model.id)
        .order_by(Model.name, ModelVersion.id)
    ).all()
    grouped: dict[int, tuple[int, str, list[str]]] = {}
    for model_id, name, version in rows:
        entry = grouped.setdefault(int(model_id), (int(model_id), str(name), []))
        if version is not None:
            entry[2].append(str(version))
    return list(grouped.values())


def last_windows(session: Session) -> dict[int, tuple[datetime, datetime]]:
    """Per model, (start, end) of its newest evaluated window."""
    newest = (
        select(WindowRun.model_id, func.max(WindowRun.window_end).label("end"))
        .group_by(WindowRun.model_id)
        .subquery()
    )
    rows = session.execute(
        select(WindowRun.model_id, func.max(WindowRun.window_start), newest.c.end)
        .join(newest, and_(newest.c.model_id == WindowRun.model_id, newest.c.end == WindowRun.window_end))
        .group_by(WindowRun.model_id, newest.c.end)
    ).all()
    return {int(model_id): (start, end) for model_id, start, end in rows}


def open_alert_counts(session: Session) -> dict[int, dict[str, int]]:
    """Per model, the number of its alerts in each open state."""
    rows = session.execute(
        select(Alert.model_id, Alert.state, func.count())
        .where(Alert.state.in_(OPEN_STATES))
        .group_by(Alert.model_id, Alert.state)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for model_id, state, count in rows:
        counts.setdefault(int(model_id), {})[str(state)] = int(count)
    return counts


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


def backlog(session: Session, now: datetime) -> tuple[int, datetime | None, datetime | None]:
    """(windows ended by ``now`` and waiting for evaluation, the oldest one's end, the time
    through which events are aggregated)."""
    waiting, oldest = session.execute(
        select(func.count(), func.min(WindowTask.window_end)).where(
            WindowTask.wanted > WindowTask.done, WindowTask.window_end <= now
        )
    ).one()
    folded: datetime | None = session.execute(select(func.max(AggregationState.folded_through))).scalar()
    return int(waiting), oldest, folded


def figures(session: Session, run_ids: Sequence[int]) -> list[FigureRecord]:
    """The charted figures of the given runs: drift scores, performance (realised and
    estimated), selection rate per group and disparate impact ratio."""
    if not run_ids:
        return []
    charted = or_(
        and_(Evaluation.family == "drift", Evaluation.metric == "drift_score"),
        Evaluation.family.in_(PERFORMANCE_FAMILIES),
        and_(Evaluation.family == "fairness", Evaluation.metric.in_(FAIRNESS_METRICS)),
    )
    query = select(
        Evaluation.run_id,
        Evaluation.family,
        Evaluation.metric,
        Evaluation.feature,
        Evaluation.attribute,
        Evaluation.group,
        Evaluation.value,
        Evaluation.ci_low,
        Evaluation.ci_high,
        Evaluation.n,
        Evaluation.threshold,
        Evaluation.status,
    ).where(Evaluation.run_id.in_(list(run_ids)), charted)
    # Core rows, not ORM ones: half the cost at ~3,000 rows, and nothing here is an entity.
    return [FigureRecord._make(row) for row in session.connection().execute(query).all()]
