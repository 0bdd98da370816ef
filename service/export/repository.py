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

from service.storage.engine_tables import Evaluation, WindowRun
from service.storage.event_tables import Prediction
from service.storage.registry_tables import Model, ModelVersion

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
