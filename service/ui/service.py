"""The status pages' data: stored rows (the domains' ``queries`` and ``repository``) turned into
tables and chart series.

Drift shows the ``TOP_FEATURES`` features with the highest drift score in the newest window
(ties and gaps broken by their highest score in the windows shown), then the multivariate
drift score (the shift of the rows' PCA reconstruction error) with its interval when the
layout has one; performance the first
``PERFORMANCE_CHARTS`` metrics of ``PERFORMANCE_ORDER`` that the model has, realised with
its interval and, when stored, the label-free estimate; fairness, per protected attribute or
intersection, the selection rate of each group and the disparate impact ratio
(min_g SR_g / max_g SR_g) with its interval (a multiclass model: per class, one-vs-rest; a
regression model: each group's mean error and their max − min).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation
from service.alerting import queries as alerting
from service.alerting.states import OPEN_STATES, AlertState
from service.failures import queries as failures
from service.kernel.states import FigureStatus
from service.registry import queries as registry
from service.stats.multivariate import NAME as MULTIVARIATE
from service.ui import repository
from service.ui.repository import AlertRecord
from service.ui.schemas import (
    AlertRow,
    Chart,
    FailureRow,
    FairnessBlock,
    Health,
    ModelPage,
    ModelRow,
    Overview,
    Point,
    Series,
)
from service.ui.slices import slice_table
from service.windows import queries as windows
from service.windows.queries import FigureRecord, RunSummary, recent_runs

WINDOWS_SHOWN = 60
TOP_FEATURES = 6
PERFORMANCE_CHARTS = 4
MAX_GROUPS = 8
FIRING_LISTED = 200
# Failing units shown on the overview, newest first; the API lists every one per model.
FAILURES_LISTED = 50
RECENT_ALERTS = 20
# The charted figures, (family, metrics or None for all): drift scores, performance (realised
# and estimated), selection rate per group and disparate impact ratio.
CHARTED: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("drift", ("drift_score", MULTIVARIATE)),
    ("performance", None),
    ("estimated_performance", None),
    ("fairness", ("selection_rate", "disparate_impact_ratio", "mean_error", "mean_error_difference")),
)
PERFORMANCE_ORDER = (
    "roc_auc",
    "accuracy",
    "f1",
    "f1_macro",
    "rmse",
    "mae",
    "r2",
    "recall",
    "precision",
    "pr_auc",
    "brier",
    "log_loss",
    "f1_weighted",
    "specificity",
    "ece",
    "mape",
    "mean_error",
)


# ---------------------------------------------------------------- overview


def alert_row(record: AlertRecord) -> AlertRow:
    alert = record.alert
    return AlertRow(
        id=alert.id,
        model=record.model,
        version=record.version,
        family=alert.family,
        metric=alert.metric,
        subject=subject_of(alert.feature, alert.attribute, alert.group),
        severity=alert.severity,
        state=alert.state,
        value=alert.value,
        threshold=alert.threshold,
        since=alert.fired_at or alert.started_at,
        resolved_at=alert.resolved_at,
        summary=alert.summary,
    )


def subject_of(feature: str, attribute: str, group: str) -> str:
    """ "income", "sex", "sex = F", or "overall" for a figure of the whole window."""
    if feature:
        return feature
    if attribute:
        return f"{attribute} = {group}" if group else attribute
    return "overall"


def health(session: Session, now: datetime) -> Health:
    waiting, oldest = windows.due_backlog(session, now)
    progress = aggregation.progress(session)
    folded = None if progress is None else progress.folded_through
    lag = None if oldest is None else (now - oldest).total_seconds()
    return Health(repository.schema_revision(session), waiting, lag, folded)


def overview(session: Session, now: datetime) -> Overview:
    last = windows.last_windows(session)
    counts = alerting.open_alert_counts(session)
    rows = tuple(
        ModelRow(
            name=name,
            versions=tuple(versions),
            last_window=last.get(model_id),
            firing=counts.get(model_id, {}).get("firing", 0),
            pending=counts.get(model_id, {}).get("pending", 0),
        )
        for model_id, name, versions in registry.model_lines(session)
    )
    firing = repository.alerts(session, states=(AlertState.FIRING,), limit=FIRING_LISTED)
    failing = tuple(
        FailureRow(f.model, f.job, f.unit, f.error, f.attempts, f.retry_at)
        for f in failures.newest(session, FAILURES_LISTED)
    )
    return Overview(rows, tuple(alert_row(r) for r in firing), health(session, now), now, failing)


# ---------------------------------------------------------------- one model


def _point(run: RunSummary, figure: FigureRecord | None) -> Point:
    if figure is None:
        return Point(run.window_end, None)
    return Point(
        x=run.window_end,
        y=figure.value,
        low=figure.ci_low,
        high=figure.ci_high,
        n=figure.n,
        provisional=figure.status == FigureStatus.PROVISIONAL,
        alert=figure.status == FigureStatus.ALERT,
        watch=figure.status == FigureStatus.WATCH,
    )


class Figures:
    """The page's figures indexed by (family, metric, feature, attribute, group) → run id."""

    def __init__(self, runs: Sequence[RunSummary], figures: Iterable[FigureRecord]) -> None:
        self.runs = runs
        self.index: dict[tuple[str, str, str, str, str], dict[int, FigureRecord]] = defaultdict(dict)
        for f in figures:
            self.index[(f.family, f.metric, f.feature, f.attribute, f.group)][f.run_id] = f

    def keys(self, family: str, metric: str | None = None) -> list[tuple[str, str, str, str, str]]:
        return sorted(k for k in self.index if k[0] == family and (metric is None or k[1] == metric))

    def points(self, key: tuple[str, str, str, str, str]) -> tuple[Point, ...]:
        found = self.index.get(key, {})
        return tuple(_point(run, found.get(run.id)) for run in self.runs)

    def thresholds(self, keys: Iterable[tuple[str, str, str, str, str]]) -> tuple[float, ...]:
        """The distinct thresholds of ``keys`` in the newest window that has them."""
        seen: set[float] = set()
        for key in keys:
            found = self.index.get(key, {})
            newest = next((found[r.id] for r in reversed(self.runs) if r.id in found), None)
            if newest is not None and newest.threshold is not None:
                seen.add(newest.threshold)
        return tuple(sorted(seen))

    @property
    def xs(self) -> tuple[datetime, ...]:
        return tuple(run.window_end for run in self.runs)


def _drift_rank(points: Sequence[Point]) -> tuple[float, float]:
    newest = next((p.y for p in reversed(points) if p.y is not None), None)
    highest = max((p.y for p in points if p.y is not None), default=-1.0)
    return (-1.0 if newest is None else newest, highest)


def drift_chart(figures: Figures) -> tuple[Chart | None, int]:
    """The drift chart of the top features, and how many features have a drift score."""
    keys = figures.keys("drift", "drift_score")
    if not keys:
        return None, 0
    ranked = sorted(keys, key=lambda k: _drift_rank(figures.points(k)), reverse=True)[:TOP_FEATURES]
    series = tuple(Series(k[2], figures.points(k)) for k in ranked)
    chart = Chart(
        key="drift",
        title="Drift score per feature",
        series=series,
        xs=figures.xs,
        thresholds=figures.thresholds(ranked),
        y_floor=0.0,
        wide=True,
    )
    return chart, len(keys)


def multivariate_chart(figures: Figures) -> Chart | None:
    """The multivariate drift score with its interval, or None when no window has one."""
    keys = figures.keys("drift", MULTIVARIATE)
    if not keys:
        return None
    return Chart(
        key="drift-multivariate",
        title="Multivariate drift: shift of the PCA reconstruction error",
        series=tuple(Series("all numeric features", figures.points(k), band=True) for k in keys),
        xs=figures.xs,
        thresholds=figures.thresholds(keys),
        y_floor=0.0,
    )


def performance_charts(figures: Figures) -> tuple[Chart, ...]:
    realised = {k[1]: k for k in figures.keys("performance") if not k[2] and not k[3]}
    estimated = {k[1]: k for k in figures.keys("estimated_performance") if not k[2] and not k[3]}
    order = [m for m in PERFORMANCE_ORDER if m in realised or m in estimated]
    order += sorted((set(realised) | set(estimated)) - set(order))
    charts = []
    for metric in order[:PERFORMANCE_CHARTS]:
        series = []
        if metric in realised:
            series.append(Series("realised", figures.points(realised[metric]), band=True))
        if metric in estimated:
            series.append(Series("estimated (no labels)", figures.points(estimated[metric]), estimated=True))
        keys = [realised.get(metric) or estimated[metric]]
        charts.append(
            Chart(
                key=f"performance-{metric}",
                title=metric,
                series=tuple(series),
                xs=figures.xs,
                thresholds=figures.thresholds(keys),
            )
        )
    return tuple(charts)


# Per task, the group figure and the disparity charted for each attribute: a classifier's
# selection rate per group and disparate impact ratio; a regression model's mean error (bias,
# in the target's unit) per group and its max − min. A multiclass model has one block per
# class (the figures' ``feature``), at most ``MAX_CLASSES`` per attribute.
FAIRNESS_CHARTS = (("selection_rate", "disparate_impact_ratio"), ("mean_error", "mean_error_difference"))
MAX_CLASSES = 8
_Key = tuple[str, str, str, str, str]


def _fairness_block(
    figures: Figures, subject: tuple[str, str], groups: list[_Key], disparity: _Key | None
) -> FairnessBlock:
    """The charts of one attribute (and class): its groups' rate, then its disparity."""
    attribute, class_ = subject
    title = f"{attribute} · class {class_}" if class_ else attribute
    slug = f"{attribute}-{class_}" if class_ else attribute
    rate, shown = groups[0][1] if groups else "", groups[:MAX_GROUPS]
    label = rate.replace("_", " ").capitalize()
    charts = [
        Chart(
            key=f"fairness-{slug}-{rate}",
            title=f"{label} per group of {title}",
            series=tuple(Series(k[4], figures.points(k)) for k in shown),
            xs=figures.xs,
            y_floor=0.0 if rate == "selection_rate" else None,
        )
    ]
    if disparity is not None:
        ratio = disparity[1] == "disparate_impact_ratio"
        charts.append(
            Chart(
                key=f"fairness-{slug}-{disparity[1]}",
                title=f"{'Disparate impact ratio' if ratio else 'Mean error difference'} of {title}",
                series=(
                    Series("impact ratio" if ratio else "max − min", figures.points(disparity), band=True),
                ),
                xs=figures.xs,
                thresholds=figures.thresholds([disparity]),
                y_floor=0.0,
                y_ceiling=1.0 if ratio else None,
            )
        )
    return FairnessBlock(title, tuple(k[4] for k in shown), tuple(charts))


def fairness_blocks(figures: Figures) -> tuple[FairnessBlock, ...]:
    rates: dict[tuple[str, str], list[_Key]] = defaultdict(list)
    disparities: dict[tuple[str, str], _Key] = {}
    for rate, disparity in FAIRNESS_CHARTS:
        for key in figures.keys("fairness", rate):
            rates[(key[3], key[2])].append(key)
        disparities.update({(k[3], k[2]): k for k in figures.keys("fairness", disparity) if not k[4]})
    # Single attributes first, then intersections ("sex×age_band"), each alphabetically; classes
    # alphabetically within an attribute.
    subjects = sorted(set(rates) | set(disparities), key=lambda s: ("×" in s[0], s[0], s[1]))
    per_attribute: dict[str, int] = defaultdict(int)
    blocks = []
    for subject in subjects:
        per_attribute[subject[0]] += 1
        if per_attribute[subject[0]] <= MAX_CLASSES:
            blocks.append(_fairness_block(figures, subject, rates.get(subject, []), disparities.get(subject)))
    return tuple(blocks)


def model_page(session: Session, name: str, version: str | None, now: datetime) -> ModelPage | None:
    """The page of model ``name`` at ``version`` (default: the newest registered); None if
    either is unknown."""
    versions = registry.version_records(session, name)
    if not versions:
        return None
    model_id = versions[0].model_id
    chosen = versions[-1] if version is None else next((v for v in versions if v.version == version), None)
    if chosen is None:
        return None
    runs = recent_runs(session, chosen.id, WINDOWS_SHOWN)[::-1]  # oldest first
    figures = Figures(runs, windows.figure_records(session, [r.id for r in runs], CHARTED))
    drift, drift_features = drift_chart(figures)
    newest = runs[-1] if runs else None
    open_ = repository.alerts(session, states=OPEN_STATES, limit=FIRING_LISTED, model_id=model_id)
    recent = repository.alerts(session, states=(AlertState.RESOLVED,), limit=RECENT_ALERTS, model_id=model_id)
    return ModelPage(
        name=name,
        version=chosen.version,
        task=chosen.task,
        versions=tuple(v.version for v in versions),
        last_window=None if newest is None else (newest.window_start, newest.window_end),
        windows=len(runs),
        label_coverage=None if newest is None else newest.label_coverage,
        drift=drift,
        drift_features=drift_features,
        multivariate=multivariate_chart(figures),
        performance=performance_charts(figures),
        fairness=fairness_blocks(figures),
        # Firing before pending, each longest-open first: what on-call reads first.
        open_alerts=tuple(
            sorted((alert_row(r) for r in open_), key=lambda a: (a.state != AlertState.FIRING, a.since))
        ),
        recent_alerts=tuple(alert_row(r) for r in recent),
        now=now,
        slices=slice_table(
            session, model_id, chosen.id, None if newest is None else (newest.window_start, newest.window_end)
        ),
    )
