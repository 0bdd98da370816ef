"""Failing slices of a model over a time range, from the merged bucket profiles' slice counts.

The range [from, to) is widened to the bucket grid (``from`` floored, ``to`` ceiled) and its
stored profiles merged like a window's (``window_profile``: day, hour and bucket pieces, so
the cost grows with the number of pieces, not rows). The endpoint folds the model's pending
events first (``ondemand.fold_model_now``), so rows and labels sent before the request count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.errors import FieldError, Invalid, NotFound
from service.kernel import grid
from service.registry.service import RegisteredModel, pick_version
from service.stats.slice_search import DEFAULT_METRIC, METRICS, SliceFinding, SliceSearch, search_slices
from service.stats.slices import plan_of
from service.windows.service import ProfileCache, Target, target_of, window_profile
from service.windows.slice_schemas import SliceCell, SliceItem, SliceMetric, SlicesResponse


@dataclass(frozen=True, slots=True)
class SliceQuery:
    start: datetime
    end: datetime
    metric: SliceMetric | None = None
    version: str | None = None
    fdr: float = 0.05
    confidence: float = 0.95
    limit: int = 20


def _metric(query: SliceQuery, task: str) -> str:
    metric = DEFAULT_METRIC[task] if query.metric is None else query.metric.value
    if task not in METRICS[metric][0]:
        known = sorted(m for m, (tasks, _) in METRICS.items() if task in tasks)
        raise Invalid(
            f"metric {metric!r} does not apply to a {task} model",
            [FieldError(None, "metric", f"one of {known}")],
        )
    return metric


def _aligned(target: Target, start: datetime, end: datetime) -> grid.Window:
    bucket = target.row.bucket_seconds
    low = grid.floor(start, bucket)
    high = grid.floor(end, bucket)
    return low, high if high == end else grid.at(grid.seconds_since_epoch(high) + bucket)


def search_window(
    session: Session, target: Target, window: grid.Window, *, metric: str, fdr: float, confidence: float
) -> SliceSearch | None:
    """The search over ``window``'s stored profiles; None when part of it has no slice counts."""
    profile = window_profile(session, target.row, target.layout, window[0], window[1], ProfileCache(64))
    plan = plan_of(target.layout)
    if profile.slices is None or len(profile.slices.cells) != plan.size:
        return None
    return search_slices(
        plan, profile.slices, task=target.layout.task, metric=metric, fdr=fdr, confidence=confidence
    )


def default_search(
    session: Session, model_id: int, version_id: int, window: grid.Window
) -> SliceSearch | None:
    """The window's failing slices by the task's default metric (error rate; MAE for
    regression); None before the version has a layout or when slice counts are missing."""
    target = target_of(session, model_id, version_id)
    if target is None:
        return None
    metric = DEFAULT_METRIC[target.layout.task]
    return search_window(session, target, window, metric=metric, fdr=0.05, confidence=0.95)


def find_slices(session: Session, model: RegisteredModel, query: SliceQuery) -> SlicesResponse:
    spec = pick_version(model, query.version)
    target = target_of(session, model.model_id, spec.version_id)
    if target is None:
        raise NotFound(f"version {spec.version!r} of {model.name!r} has no bins yet")
    metric = _metric(query, target.layout.task)
    window = _aligned(target, query.start, query.end)
    found = search_window(session, target, window, metric=metric, fdr=query.fdr, confidence=query.confidence)
    status = "unavailable" if found is None else "ok" if found.n else "insufficient_data"
    return SlicesResponse(
        version=spec.version,
        window_start=window[0],
        window_end=window[1],
        metric=SliceMetric(metric),
        status=status,
        n=0 if found is None else found.n,
        value=None if found is None else found.value,
        tested=0 if found is None else found.tested,
        fdr=query.fdr,
        confidence=query.confidence,
        slices=[] if found is None else [_item(f) for f in found.findings[: query.limit]],
    )


def _item(finding: SliceFinding) -> SliceItem:
    return SliceItem(
        slice=[SliceCell(kind=k, column=c, value=v) for k, c, v in finding.cells],
        n=finding.n,
        value=finding.value,
        ci_low=finding.low,
        ci_high=finding.high,
        rest_n=finding.rest_n,
        rest_value=finding.rest_value,
        gap=finding.gap,
        gap_low=finding.gap_low,
        p_value=finding.p_value,
        q_value=finding.q_value,
    )
