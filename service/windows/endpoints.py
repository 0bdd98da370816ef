"""Evaluations of a model: stored figures, a window evaluated on demand, a backtest."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from service.context import Context
from service.errors import ErrorBody, Invalid
from service.ranges import checked_range, utc_parameter
from service.registry.schemas import VERSION_PATTERN, ModelNamePath
from service.registry.service import load_model, pick_version
from service.storage.database import unit_of_work
from service.windows import ondemand
from service.windows.jobs import AggregationJob
from service.windows.repository import EvaluationFilter
from service.windows.schemas import (
    BacktestRequest,
    BacktestResponse,
    EvaluateResponse,
    EvaluationPage,
    Family,
    WindowRequest,
)
from service.windows.slice_schemas import SliceMetric, SlicesResponse
from service.windows.slices import SliceQuery, find_slices

router = APIRouter(prefix="/v1/models", tags=["evaluations"])
# A range merges one stored profile per day at most (~1 ms each), so a year costs ~0.4 s.
MAX_SLICE_RANGE = timedelta(days=400)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
    404: {"model": ErrorBody, "description": "Unknown model, or a version without bins yet."},
    422: {"model": ErrorBody, "description": "Invalid parameters; `errors` names each field."},
}
_EVALUATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    503: {"model": ErrorBody, "description": "A worker folding the model's events held it too long."},
}


@router.get("/{name}/evaluations", summary="List stored evaluations", responses=_ERRORS)
def list_evaluations(
    name: ModelNamePath,
    context: Context,
    family: Family | None = None,
    metric: Annotated[str | None, Query(max_length=64)] = None,
    feature: Annotated[str | None, Query(max_length=128)] = None,
    attribute: Annotated[str | None, Query(max_length=256)] = None,
    version: Annotated[str | None, Query(pattern=VERSION_PATTERN)] = None,
    from_: Annotated[datetime | None, Query(alias="from", description="Windows ending after this.")] = None,
    to: Annotated[datetime | None, Query(description="Windows ending at or before this.")] = None,
    revisions: Annotated[str, Query(pattern="^(latest|all)$")] = "latest",
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5_000,
    # Bounded: the databases store 64-bit integers; a larger offset failed in SQLite (500).
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> EvaluationPage:
    """Figures of evaluated windows, oldest window first; by default each window's latest
    revision only (`revisions=all` adds the earlier ones, e.g. before late labels)."""
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        version_id = None if version is None else pick_version(model, version, Invalid).version_id
        where = EvaluationFilter(
            model_id=model.model_id,
            version_id=version_id,
            family=None if family is None else family.value,
            metric=metric,
            feature=feature,
            attribute=attribute,
            start=None if from_ is None else utc_parameter("from", from_),
            end=None if to is None else utc_parameter("to", to),
            all_revisions=revisions == "all",
        )
        return ondemand.list_evaluations(session, where, limit=limit, offset=offset)


def _folding(context: Context) -> ondemand.Folding:
    """Up to where a request folds its model first: the committed high water, read in its own
    short transaction (it holds writers back), and the workers' pass limits."""
    jobs = AggregationJob(context.sessions, context.settings, context.clock)
    high_water = jobs.high_water_for_request()
    return ondemand.Folding(high_water, jobs.limits(), context.settings.cold_read_slices)


@router.post("/{name}/evaluate", summary="Evaluate a window now", responses=_EVALUATE_ERRORS)
def evaluate(
    name: ModelNamePath, context: Context, request: Annotated[WindowRequest | None, Body()] = None
) -> EvaluateResponse:
    """Evaluate the given window (or the one ending at the current bucket boundary) and return
    its figures, none stored. A window with events not folded yet is profiled from its raw
    events; otherwise (or before the version has a layout, or when its bins are due for a
    refit) the model's committed events are folded first, as a worker's pass would, and stored.
    503 when a worker folding the model holds it for over 10 s."""
    folding = _folding(context)
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        return ondemand.evaluate_now(session, model, request or WindowRequest(), context.clock(), folding)


@router.post("/{name}/monitor/backtest", summary="Backtest a proposed configuration", responses=_ERRORS)
def backtest(name: ModelNamePath, request: BacktestRequest, context: Context) -> BacktestResponse:
    """Replay a proposed configuration over the stored bucket profiles and say, window by
    window, what would have alerted. Nothing is stored or changed."""
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        return ondemand.backtest(session, model, request, context.clock())


@router.get("/{name}/slices", summary="Slices performing worse than the rest", responses=_EVALUATE_ERRORS)
def slices(
    name: ModelNamePath,
    context: Context,
    from_: Annotated[
        datetime, Query(alias="from", description="Start of the range (floored to the bucket grid).")
    ],
    to: Annotated[datetime, Query(description="End of the range (ceiled to the bucket grid).")],
    metric: Annotated[
        SliceMetric | None, Query(description="error_rate (default), tpr, fpr; mae for regression.")
    ] = None,
    version: Annotated[str | None, Query(pattern=VERSION_PATTERN)] = None,
    fdr: Annotated[float, Query(gt=0, lt=1, description="Benjamini–Hochberg level.")] = 0.05,
    confidence: Annotated[float, Query(gt=0.5, lt=1, description="Of the intervals.")] = 0.95,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> SlicesResponse:
    """Categories, numeric bins (reference deciles), protected groups and pairs of them whose
    metric over [from, to) is significantly worse than the rest of the range's rows, with the
    false-discovery rate held at `fdr` across every slice tested (docs/statistics-outcomes.md),
    ranked by the lower confidence bound of how much worse. From the stored bucket profiles,
    after the model's committed events not folded yet are folded (as `POST …/evaluate` does,
    up to 5 passes; 503 when a worker folding the model holds it for over 10 s)."""
    start, end = checked_range(from_, to, MAX_SLICE_RANGE)
    query = SliceQuery(start, end, metric, version, fdr, confidence, limit)
    folding = _folding(context)
    with unit_of_work(context.sessions) as session:
        model = load_model(session, name)
        ondemand.fold_model_now(session, model.model_id, context.clock(), folding)
        return find_slices(session, model, query)
