"""Aggregation passes, one model at a time: the model's cursor, claimed, and why each event
is counted once.

Each model has its own cursor (``aggregation_cursors``): watermarks P_m (predictions) and O_m
(outcomes). A pass claims the cursor of the next model with unfolded events
(``FOR UPDATE SKIP LOCKED``: another worker takes another model, so two workers fold two
models at once), brings that model's version layouts up to date (fitting and re-aggregating a
version whose bins changed), then reads the model's predictions with ids in (P_m, P'] — each
joined to its outcome if that outcome's id ≤ O' — and its outcomes with ids in (O_m, O'] whose
prediction was folded in an earlier pass (id ≤ P_m), and stores P', O' on its cursor. Every
(prediction, outcome) pair of a model is so counted once: with its label if both ids are
within the watermarks, else unlabelled until the outcome's pass adds its label as a
``label_delta`` to the bucket of the prediction's time, however late it comes. Re-running a
pass reads nothing twice. P' and O' never pass the committed high water
(``repository.committed_high_water``), so no id at or below them can still appear.

A model without events to fold is not claimed one by one: when no model is left, one
statement's worth of idle cursors (``FOR UPDATE SKIP LOCKED``) is moved up to the high water,
so that every cursor's ``folded_through`` says how far its model is folded (a model's windows
are evaluated only when they end before it). A window evaluated on demand folds its model in
the request's transaction first (``fold_now``), waiting for a worker holding the model rather
than skipping it.

A model's pass is one unit of work (a savepoint, ``service/failures``): when its preparation or
fold raises, all of it is rolled back, its cursor stays where it was, and it is reported in
``failed``. Other models' cursors never wait for it. A *held* model (its aggregation failed
before) is not claimed until its retry is due; the retry rebuilds its profiles from every
stored event up to the new watermarks, so nothing is lost whatever an earlier version of this
pass passed over.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.aggregation import repository
from service.aggregation.service import Limits, PassResult, fold_events
from service.errors import Unavailable
from service.failures.service import isolated
from service.registry import queries as registry
from service.stats.layout import Layout
from service.storage.dialect import lock_timed_out
from service.storage.engine_tables import AggregationCursor

# How long an on-demand fold waits for a worker folding the same model: a worker's pass of
# 100,000 rows holds the cursor ~2.3 s at ~44,000 rows/s, and the waiter is next in line.
FOLD_NOW_LOCK_TIMEOUT = "10s"


@dataclass(frozen=True, slots=True)
class HighWater:
    """``ids`` from ``committed_high_water``, read at ``at`` (every event committed before
    then has an id at or below them)."""

    ids: tuple[int, int]
    at: datetime | None = None


def aggregate_pass(
    session: Session,
    *,
    now: datetime,
    high_water: tuple[int, int],
    max_rows: int = 100_000,
    max_reference_rows: int = 100_000,
    parsed: dict[int, Layout] | None = None,
    high_water_at: datetime | None = None,
    held: Collection[int] = (),
    retry: Collection[int] = (),
) -> PassResult:
    """Fold one model's events with ids up to ``high_water`` (from ``committed_high_water``,
    read at ``high_water_at``), at most ``max_rows`` predictions and ``max_rows`` outcomes: the
    least recently folded model with unfolded events whose cursor no other worker holds.
    ``held``: models left alone; ``retry``: those of them claimed and rebuilt now.
    When no model is left to fold, the cursors of idle models are moved up to the high water
    (so their ``folded_through`` advances) and the result is not ``claimed``."""
    repository.ensure_cursors(session, registry.model_ids(session), now)
    waiting = set(held) - set(retry)
    cursor = repository.claim_next_cursor(session, high_water, skip=waiting, due=set(retry))
    mark = HighWater(high_water, high_water_at)
    if cursor is None:
        for idle in repository.idle_cursors(session, high_water):
            _advance(idle, high_water, now, mark, generation=idle.generation)
        session.flush()
        return PassResult(claimed=False)
    limits = Limits(max_rows, max_reference_rows, {} if parsed is None else parsed)
    return fold_model(
        session, cursor, now=now, high_water=mark, limits=limits, rebuild=cursor.model_id in retry
    )


def fold_now(
    session: Session,
    model_id: int,
    *,
    now: datetime,
    high_water: HighWater,
    limits: Limits,
    passes: int = 5,
    lock_timeout: str = FOLD_NOW_LOCK_TIMEOUT,
) -> PassResult:
    """Fold one model's events up to ``high_water`` in this transaction (at most ``passes``
    passes), waiting up to ``lock_timeout`` for a worker folding it; ``Unavailable`` (503) when
    the wait runs out. For a window evaluated on demand."""
    repository.ensure_cursors(session, [model_id], now)
    try:
        cursor = repository.claim_cursor(session, model_id, lock_timeout)
    except OperationalError as error:
        if not lock_timed_out(error):
            raise
        raise Unavailable(
            f"a worker has been folding this model's events for over {lock_timeout}; retry shortly",
            headers={"Retry-After": "5"},  # a worker's pass holds a model ~2 s at the default size
        ) from error
    total = PassResult(claimed=cursor is not None, model_id=model_id)
    for _ in range(passes if cursor is not None else 0):
        assert cursor is not None
        total.absorb(fold_model(session, cursor, now=now, high_water=high_water, limits=limits))
        if total.failed or total.caught_up:
            break
    return total


def fold_model(
    session: Session,
    cursor: AggregationCursor,
    *,
    now: datetime,
    high_water: HighWater,
    limits: Limits,
    rebuild: bool = False,
) -> PassResult:
    """One pass of the model whose ``cursor`` this transaction holds; the cursor advances only
    if the whole pass succeeds (one savepoint)."""
    repository.plan_for_id_ranges(session)
    model_id = cursor.model_id
    result = PassResult(claimed=True, generation=cursor.generation + 1, model_id=model_id)
    watermarks = (cursor.prediction_watermark, cursor.outcome_watermark)
    # Another worker may have read a later high water and folded past this one: never go back.
    high = (max(high_water.ids[0], watermarks[0]), max(high_water.ids[1], watermarks[1]))
    bounds, error = isolated(
        session, fold_events, session, model_id, result, (watermarks, high), now, limits, rebuild
    )
    if error is not None:
        result.failed[model_id] = error
        result.touched.clear()
        result.caught_up = False
        return result
    assert bounds is not None
    if rebuild:
        result.recovered.add(model_id)
    result.caught_up = bounds == high
    _advance(cursor, bounds, now, high_water if result.caught_up else None, generation=result.generation)
    session.flush()
    return result


def _advance(
    cursor: AggregationCursor,
    watermarks: tuple[int, int],
    now: datetime,
    high_water: HighWater | None,
    *,
    generation: int,
) -> None:
    """Move the cursor past the folded events; a pass that caught up with the high water read
    at ``high_water.at`` records that every event of the model committed before then is folded."""
    if high_water is not None and high_water.at is not None:
        cursor.folded_through = max(high_water.at, cursor.folded_through or high_water.at)
    cursor.prediction_watermark = max(cursor.prediction_watermark, watermarks[0])
    cursor.outcome_watermark = max(cursor.outcome_watermark, watermarks[1])
    cursor.generation, cursor.updated_at = generation, now
