"""What the API asks of the engine: stored evaluations, a window evaluated now, a backtest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from service.aggregation.cursors import HighWater, fold_now
from service.aggregation.service import Limits
from service.alerting.replay import Episode, Replay
from service.errors import FieldError, Invalid, NotFound
from service.kernel import grid
from service.kernel.states import FigureStatus
from service.monitors.plans import WindowGrid
from service.registry import queries as registry
from service.registry.service import RegisteredModel, VersionSpec, pick_version
from service.storage.engine_tables import Evaluation, WindowRun
from service.windows import repository
from service.windows.figures import Figure, WindowFigures
from service.windows.policy import MonitorPolicy, monitor_policy
from service.windows.schemas import (
    MAX_BACKTEST_WINDOWS,
    AlertCount,
    BacktestAlert,
    BacktestRequest,
    BacktestResponse,
    BacktestWindow,
    EvaluateResponse,
    EvaluationItem,
    EvaluationPage,
    WindowRequest,
)
from service.windows.service import ProfileCache, Target, compute, schedule_each_model, target_of

LABEL_FAMILIES = frozenset({"performance", "fairness"})


def _none(text: str) -> str | None:
    return text or None


def _item(
    figure: Figure,
    window: grid.Window,
    version: str,
    label_coverage: float | None,
    *,
    revision: int,
    computed_at: datetime,
    reference_hash: str,
) -> EvaluationItem:
    return EvaluationItem(
        window_start=window[0],
        window_end=window[1],
        version=version,
        family=figure.family,
        metric=figure.metric,
        feature=figure.feature,
        attribute=figure.attribute,
        group=figure.group,
        value=figure.value,
        ci_low=figure.ci_low,
        ci_high=figure.ci_high,
        n=figure.n,
        threshold=figure.threshold,
        status=figure.status,
        label_coverage=label_coverage if figure.family in LABEL_FAMILIES else None,
        revision=revision,
        computed_at=computed_at,
        reference_hash=reference_hash,
    )


def stored_item(row: Evaluation, run: WindowRun, version: str) -> EvaluationItem:
    figure = Figure(
        family=row.family,
        metric=row.metric,
        feature=_none(row.feature),
        attribute=_none(row.attribute),
        group=_none(row.group),
        value=row.value,
        ci_low=row.ci_low,
        ci_high=row.ci_high,
        n=row.n,
        threshold=row.threshold,
        status=FigureStatus(row.status),
    )
    window = (run.window_start, run.window_end)
    coverage = run.label_coverage
    return _item(
        figure, window, version, coverage,
        revision=run.revision, computed_at=run.computed_at, reference_hash=run.reference_hash,
    )  # fmt: skip


def list_evaluations(
    session: Session, where: repository.EvaluationFilter, *, limit: int, offset: int
) -> EvaluationPage:
    found = repository.evaluations(session, where, limit=limit + 1, offset=offset)
    # One look-up of the page's version names (window runs go with their version: ON DELETE CASCADE).
    names = registry.version_names(session, sorted({run.version_id for _, run in found}))
    items = [stored_item(e, r, names[r.version_id]) for e, r in found[:limit]]
    return EvaluationPage(
        items=items, count=len(items), next_offset=offset + limit if len(found) > limit else None
    )


def _live_item(
    figure: Figure, window: grid.Window, version: str, figures: WindowFigures, target: Target, now: datetime
) -> EvaluationItem:
    """A figure computed now, not stored: revision 0."""
    return _item(
        figure, window, version, figures.label_coverage,
        revision=0, computed_at=now, reference_hash=target.row.reference_hash,
    )  # fmt: skip


def _target(session: Session, model: RegisteredModel, spec: VersionSpec) -> Target:
    target = target_of(session, model.model_id, spec.version_id)
    if target is None:
        raise NotFound(
            f"version {spec.version!r} of {model.name!r} has no bins yet: upload a reference "
            "(POST …/reference) or send at least the configured bootstrap rows of predictions"
        )
    return target


@dataclass(frozen=True, slots=True)
class Folding:
    """Up to where a request folds its model's events before evaluating, and its pass limits."""

    high_water: HighWater
    limits: Limits


# Bounded: a backlog larger than 5 passes (500,000 rows at the default pass size) is the
# workers' to fold, not a request's.
FOLD_NOW_PASSES = 5


def fold_model_now(session: Session, model_id: int, now: datetime, folding: Folding) -> None:
    """Fold the model's pending events in this transaction (waiting for a worker holding it)
    and schedule the windows they touch, as a worker's pass would."""
    result = fold_now(
        session, model_id, now=now, high_water=folding.high_water, limits=folding.limits,
        passes=FOLD_NOW_PASSES,
    )  # fmt: skip
    schedule_each_model(session, result, now)


def evaluate_now(
    session: Session,
    model: RegisteredModel,
    request: WindowRequest,
    now: datetime,
    folding: Folding | None = None,
) -> EvaluateResponse:
    """The figures of one window computed now from the stored profiles, after folding the
    model's committed events when ``folding`` is given (so a fresh window is complete)."""
    spec = pick_version(model, request.version, Invalid)
    if folding is not None:
        fold_model_now(session, model.model_id, now, folding)
    target = _target(session, model, spec)
    bucket = target.row.bucket_seconds
    if request.window_start is None or request.window_end is None:
        end = grid.floor(now, bucket)
        window = (end - timedelta(seconds=target.policy.grid.window), end)
    else:
        window = (request.window_start, request.window_end)
        errors = [
            FieldError(None, name, f"must lie on the {bucket} s bucket grid (UTC, from the epoch)")
            for name, moment in (("window_start", window[0]), ("window_end", window[1]))
            if not grid.is_aligned(moment, bucket)
        ]
        if errors:
            raise Invalid("the window does not fall on bucket boundaries", errors)
    _, figures = compute(session, target, window, now, ProfileCache(64))
    return EvaluateResponse(
        window_start=window[0],
        window_end=window[1],
        version=spec.version,
        rows=figures.rows,
        label_coverage=figures.label_coverage,
        stored=False,
        items=[_live_item(f, window, spec.version, figures, target, now) for f in figures.figures],
    )


def _check_backtest(request: BacktestRequest, proposal: WindowGrid, target: Target) -> list[grid.Window]:
    stored_bucket = target.row.bucket_seconds
    if proposal.bucket % stored_bucket:
        raise Invalid(
            "the proposed bucket is finer than the stored profiles",
            [
                FieldError(
                    None, "config.bucket", f"must be a multiple of the stored {stored_bucket} s buckets"
                )
            ],
        )
    windows = grid.windows_between(request.start, request.end, step=proposal.step, window=proposal.window)
    if len(windows) > MAX_BACKTEST_WINDOWS:
        raise Invalid(
            "the backtest covers too many windows",
            [FieldError(None, "end", f"{len(windows)} windows; at most {MAX_BACKTEST_WINDOWS} per request")],
        )
    return windows


def _fired(episode: Episode) -> BacktestAlert:
    s = episode.subject
    return BacktestAlert(
        family=s.family,
        metric=s.metric,
        feature=_none(s.feature),
        attribute=_none(s.attribute),
        group=_none(s.group),
        severity=episode.severity.value,
        direction=episode.direction,
        fired_window_end=episode.fired_window_end,
        resolved_window_end=episode.resolved_window_end,
        value=episode.value,
        threshold=episode.threshold,
    )


def backtest(
    session: Session, model: RegisteredModel, request: BacktestRequest, now: datetime
) -> BacktestResponse:
    spec = pick_version(model, request.version, Invalid)
    stored = _target(session, model, spec)
    proposal = monitor_policy(request.config)
    windows = _check_backtest(request, proposal.grid, stored)
    target = Target(stored.row, stored.layout, proposal)
    cache, results = ProfileCache(), []
    counts = Counter[tuple[str, str, str | None, str | None, str | None]]()
    replay = Replay(proposal.alerting)
    for window in windows:
        _, figures = compute(session, target, window, now, cache)
        replay.apply(window, figures.figures)
        alerts = [f for f in figures.figures if f.status == FigureStatus.ALERT]
        for f in alerts:
            counts[(f.family, f.metric, f.feature, f.attribute, f.group)] += 1
        results.append(
            BacktestWindow(
                window_start=window[0],
                window_end=window[1],
                rows=figures.rows,
                label_coverage=figures.label_coverage,
                alerts=[_live_item(f, window, spec.version, figures, target, now) for f in alerts],
            )
        )
    return BacktestResponse(
        version=spec.version,
        windows=results,
        evaluated=len(windows),
        alerting_windows=sum(1 for w in results if w.alerts),
        alerts_by_figure=[
            AlertCount(family=k[0], metric=k[1], feature=k[2], attribute=k[3], group=k[4], windows=v)
            for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
        fired=[_fired(e) for e in replay.finish()],
        notes=_backtest_notes(proposal, stored.policy),
    )


def _backtest_notes(proposal: MonitorPolicy, stored: MonitorPolicy) -> list[str]:
    """What a backtest could not replay as proposed: binning changes need stored profiles."""
    if proposal.binning.inputs == stored.binning.inputs:
        return []
    return [
        "bins, bucket and intersections are those already stored; a changed reference kind, bucket "
        "or intersection list takes effect on the stored profiles only after the change is saved"
    ]
