"""SQL of incremental aggregation: each model's cursor, event reads, layouts and bucket profiles."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.orm import Session, defer

from service.aggregation import frames
from service.aggregation.frames import EventColumns
from service.registry.service import VersionSpec
from service.storage.claim import claim_waiting, skip_locked
from service.storage.columnar import (
    Columns,
    CopyPlan,
    Field,
    JsonField,
    PackedFloats,
    copy_statement,
    read_columns,
)
from service.storage.dialect import (
    epoch_seconds,
    insert_ignoring_duplicates,
    plan_each_execution,
    wait_for_writers,
)
from service.storage.engine_tables import AggregationCursor, BucketProfile, Layout
from service.storage.event_tables import Outcome, Prediction
from service.storage.partitions import newest_id
from service.storage.sliced import concatenated, map_sliced

# Ingestion holds its row locks ~5-300 ms per batch; waiting longer than this for them to
# commit means a stuck transaction, and the pass is retried later instead.
LOCK_TIMEOUT = "3s"


# An event row, as read for aggregation: the prediction's id, version id and event time in
# whole seconds since the Unix epoch, then the fields of ``EventRow`` (from EVENT_OFFSET).
Event = Sequence[Any]
EVENT_ID, EVENT_VERSION, EVENT_SECONDS, EVENT_OFFSET = 0, 1, 2, 3


def ensure_cursors(session: Session, model_ids: Sequence[int], now: datetime) -> None:
    """A cursor at watermarks (0, 0) for every model in ``model_ids`` that has none yet: a model
    without a cursor has had nothing folded. Race safe (``INSERT … ON CONFLICT DO NOTHING``)."""
    known = set(session.execute(select(AggregationCursor.model_id)).scalars())
    rows = [
        {"model_id": m, "prediction_watermark": 0, "outcome_watermark": 0, "generation": 0, "updated_at": now}
        for m in model_ids
        if m not in known
    ]
    if rows:
        session.execute(insert_ignoring_duplicates(session, AggregationCursor, ["model_id"]), rows)


def _pending(high_water: tuple[int, int]) -> ColumnElement[bool]:
    """The cursor's model has a prediction or an outcome with an id in (watermark, high water]
    (each an index range scan on ``(model_id, id)``)."""
    cursor = AggregationCursor
    predictions = exists().where(
        Prediction.model_id == cursor.model_id,
        Prediction.id > cursor.prediction_watermark,
        Prediction.id <= high_water[0],
    )
    outcomes = exists().where(
        Outcome.model_id == cursor.model_id,
        Outcome.id > cursor.outcome_watermark,
        Outcome.id <= high_water[1],
    )
    return or_(predictions, outcomes)


def claim_next_cursor(
    session: Session, high_water: tuple[int, int], *, skip: Collection[int], due: Collection[int]
) -> AggregationCursor | None:
    """Lock the cursor of the least recently folded model with events up to ``high_water`` not
    yet folded, or in ``due`` (``FOR UPDATE SKIP LOCKED``: a model another worker folds is
    passed by); models in ``skip`` are left alone. None when there is no such model."""
    wanted = or_(_pending(high_water), AggregationCursor.model_id.in_(list(due)))
    query = (
        select(AggregationCursor)
        .where(wanted, AggregationCursor.model_id.not_in(list(skip)))
        .order_by(AggregationCursor.updated_at, AggregationCursor.model_id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(skip_locked(query, of=AggregationCursor)).scalar_one_or_none()


def claim_cursor(session: Session, model_id: int, lock_timeout: str) -> AggregationCursor | None:
    """Lock one model's cursor, waiting up to ``lock_timeout`` for a worker folding it."""
    query = (
        select(AggregationCursor)
        .where(AggregationCursor.model_id == model_id)
        .execution_options(populate_existing=True)
    )
    found = claim_waiting(session, query, lock_timeout=lock_timeout)
    return found[0] if found else None


def idle_cursors(session: Session, high_water: tuple[int, int]) -> list[AggregationCursor]:
    """Cursors whose models have no event up to ``high_water`` left to fold, locked
    (``FOR UPDATE SKIP LOCKED``): a sweep that caught up moves them to it."""
    query = select(AggregationCursor).where(not_(_pending(high_water)))
    return list(session.execute(skip_locked(query.execution_options(populate_existing=True))).scalars())


def read_cursors(session: Session) -> list[AggregationCursor]:
    """Every model's cursor as read (no lock)."""
    return list(session.execute(select(AggregationCursor)).scalars())


def committed_high_water(session: Session) -> tuple[int, int]:
    """(max prediction id, max outcome id) below which every row is committed.

    Postgres hands out ids when rows are inserted, not when they commit, so a reader can
    see id 101 committed while id 100 is still in flight. ``LOCK … IN SHARE MODE`` waits
    for every transaction writing those tables to end (and holds new writers back for
    the few milliseconds of two max() look-ups), so after it no id at or below the
    maxima can appear later. Call it in its own short transaction. SQLite commits
    writers one at a time, so its maxima are safe as read.
    """
    wait_for_writers(session, (Prediction.__tablename__, Outcome.__tablename__), LOCK_TIMEOUT)
    p_max = session.execute(newest_id(Prediction)).scalar_one()
    o_max = session.execute(newest_id(Outcome)).scalar_one()
    return int(p_max), int(o_max)


def plan_for_id_ranges(session: Session) -> None:
    """Plan each aggregation read for its own id range (this transaction only): with a
    generic plan Postgres hashed every outcome below the watermark on each pass
    (``storage.dialect.plan_each_execution`` has the numbers)."""
    plan_each_execution(session)


def nth_id_after(session: Session, table: Any, model_id: int, after: int, upto: int, n: int) -> int:
    """The id of the model's ``n``-th row past ``after`` (at most ``upto``): bounds one pass's
    work (an index range scan on ``(model_id, id)``)."""
    query = (
        select(table.id)
        .where(table.model_id == model_id, table.id > after, table.id <= upto)
        .order_by(table.id)
        .offset(n - 1)
    )
    found = session.execute(query.limit(1)).scalar_one_or_none()
    return upto if found is None else int(found)


def pass_bounds(
    session: Session, model_id: int, watermarks: tuple[int, int], high_water: tuple[int, int], n: int
) -> tuple[int, int]:
    """(prediction id, outcome id) up to which one pass of a model folds: at most ``n`` of its
    rows of each past its watermark, never past the committed high water."""
    return (
        nth_id_after(session, Prediction, model_id, watermarks[0], high_water[0], n),
        nth_id_after(session, Outcome, model_id, watermarks[1], high_water[1], n),
    )


_PREDICTION_COLUMNS = (
    Prediction.features,
    Prediction.predicted_label,
    Prediction.predicted_value,
    Prediction.score,
    Prediction.attributes,
    Prediction.attributions,
)


def _events(session: Session, query: Select[Any]) -> list[Event]:
    """Run ``query`` on the connection (Core: the ORM's per-row bookkeeping cost ~25% of a
    pass) and keep its rows as they are."""
    return list(session.connection().execute(query).all())


def _epoch_seconds(session: Session) -> Any:
    """The event time in whole seconds since the epoch, computed by the database: turning
    10^5 timestamps a pass into aware datetimes and back cost ~10% of aggregation."""
    return epoch_seconds(session, Prediction.event_time)


def _with_outcomes_upto(session: Session, outcomes_upto: int) -> Select[Any]:
    """Predictions, each with its outcome if that outcome's id ≤ ``outcomes_upto``."""
    return (
        select(Prediction.id, Prediction.version_id, _epoch_seconds(session), *_PREDICTION_COLUMNS)
        .add_columns(Outcome.label, Outcome.value)
        .outerjoin(Outcome, _outcomes_upto(outcomes_upto))
    )


def _plain(session: Session) -> tuple[Any, ...]:
    """The plain columns of a columnar event read, labelled as ``frames.PLAIN`` names them."""
    return (
        Prediction.id.label(frames.ID),
        Prediction.version_id.label(frames.VERSION),
        _epoch_seconds(session).label(frames.SECONDS),
        Prediction.predicted_label.label("predicted_label"),
        Prediction.predicted_value.label("predicted_value"),
        Prediction.score.label("score"),
        Outcome.label.label("label"),
        Outcome.value.label("value"),
        func.coalesce(Outcome.id, 0).label(frames.OUTCOME),
    )


_DOCUMENTS = {
    "features": Prediction.features,
    "attributes": Prediction.attributes,
    "attributions": Prediction.attributions,
}


def read_events(session: Session, query: Select[Any], specs: Iterable[VersionSpec]) -> EventColumns:
    """Run an event ``query`` (of ``_plain`` columns) in this transaction, in columns."""
    return _columns(session, query, specs)


def _columns(session: Session, query: Select[Any], specs: Iterable[VersionSpec]) -> EventColumns:
    """Run an event ``query`` (of ``_plain`` columns) with the JSON fields ``specs`` read, in columns."""
    kinds = [kind for _, kind in frames.PLAIN]
    return EventColumns(read_columns(session, query, kinds, _fields(specs)))


def _fields(specs: Iterable[VersionSpec]) -> list[Field]:
    """The JSON fields an event read extracts for ``specs`` (features, attributes, attributions),
    the numeric features packed (``predictions.numbers``) when every spec has the same ones.
    Not ``whole`` documents: pyarrow's JSON reader crashed (SIGSEGV) in a fold's read."""
    specs = list(specs)
    packed = frames.packed_features(specs)
    fields: list[Field] = [
        JsonField(name, _DOCUMENTS[document], key, kind)
        for name, document, key, kind in frames.event_fields(specs)
        if not (document == "features" and key in packed)
    ]
    if packed:
        # Versions are immutable, so a row of one of these versions was packed with ``packed``.
        holds = Prediction.version_id.in_(sorted({spec.version_id for spec in specs}))
        names = tuple(frames.feature_column(name) for name in packed)
        fields.append(PackedFloats(names, Prediction.numbers, Prediction.features, packed, holds))
    return fields


def _outcomes_upto(outcomes_upto: int) -> Any:
    """A prediction's outcome if that outcome's id ≤ ``outcomes_upto`` (an outer join's condition)."""
    return and_(
        Outcome.model_id == Prediction.model_id,
        Outcome.prediction_id == Prediction.prediction_id,
        Outcome.id <= outcomes_upto,
    )


def new_predictions(
    session: Session,
    after: int,
    upto: int,
    outcomes_upto: int,
    specs: Iterable[VersionSpec],
    *,
    model_id: int,
) -> EventColumns:
    """The model's predictions with ids in (after, upto], each with its outcome if that id ≤
    outcomes_upto; the features, attributes and attributions of ``specs`` in columns."""
    return _columns(session, new_predictions_query(session, after, upto, outcomes_upto, model_id), specs)


def new_predictions_query(
    session: Session, after: int, upto: int, outcomes_upto: int, model_id: int
) -> Select[Any]:
    """``new_predictions``' query (its plain columns; ``event_reads`` adds the JSON fields)."""
    # No ORDER BY: folding is order-free, and the sort spilled to disk at the default work_mem.
    return (
        select(*_plain(session))
        .outerjoin(Outcome, _outcomes_upto(outcomes_upto))
        .where(Prediction.id > after, Prediction.id <= upto, Prediction.model_id == model_id)
    )


def event_reads(
    session: Session, queries: Sequence[Select[Any]], specs: Iterable[VersionSpec]
) -> list[tuple[str, Any, CopyPlan]]:
    """Postgres: the ``COPY`` statement, parameters and column kinds of each event query
    (of ``_plain`` columns) with the JSON fields ``specs`` read."""
    kinds, fields = [kind for _, kind in frames.PLAIN], _fields(specs)
    return [copy_statement(session, query, kinds, fields) for query in queries]


def slice_bounds(session: Session, model_id: int, after: int, upto: int, rows: int) -> list[int]:
    """[after, id_1, …, upto]: the model's predictions in (after, upto] cut every ``rows``
    of them (one index look-up per cut)."""
    cuts = [after]
    while cuts[-1] < upto:
        cuts.append(nth_id_after(session, Prediction, model_id, cuts[-1], upto, rows))
    return cuts


def outcome_count(session: Session, model_id: int, after: int, upto: int) -> int:
    """The model's outcomes with ids in (after, upto] (an index range scan on ``(model_id, id)``)."""
    query = select(func.count()).where(Outcome.model_id == model_id, Outcome.id > after, Outcome.id <= upto)
    return int(session.execute(query).scalar_one())


def new_outcomes_of_folded(
    session: Session,
    after: int,
    upto: int,
    predictions_upto: int,
    specs: Iterable[VersionSpec],
    *,
    model_id: int,
) -> EventColumns:
    """The model's outcomes with ids in (after, upto] whose prediction (id ≤ predictions_upto)
    is already folded, with their predictions, in columns."""
    join = and_(Prediction.model_id == Outcome.model_id, Prediction.prediction_id == Outcome.prediction_id)
    query = (
        select(*_plain(session))
        .select_from(Outcome)
        .join(Prediction, join)
        .where(Outcome.id > after, Outcome.id <= upto, Prediction.id <= predictions_upto)
    )
    query = query.where(Outcome.model_id == model_id)
    return _columns(session, query, specs)


def version_event_columns(
    session: Session,
    model_id: int,
    spec: VersionSpec,
    *,
    predictions_upto: int,
    outcomes_upto: int,
    start: datetime | None = None,
    end: datetime | None = None,
    ordered: bool = True,
) -> EventColumns:
    """``version_events`` in columns (the same rows; in the same order if ``ordered``)."""
    query = (
        select(*_plain(session))
        .outerjoin(Outcome, _outcomes_upto(outcomes_upto))
        .where(
            Prediction.model_id == model_id,
            Prediction.version_id == spec.version_id,
            Prediction.id <= predictions_upto,
        )
    )
    if ordered:
        query = query.order_by(Prediction.event_time, Prediction.id)
    if start is not None:
        query = query.where(Prediction.event_time >= start)
    if end is not None:
        query = query.where(Prediction.event_time < end)
    return _columns(session, query, [spec])


T = TypeVar("T")
_EVERY_ID = 2**62  # no id bound: every committed outcome
# One window of one version needs neither the version nor the event time of its rows: the
# epoch seconds of 10^6 timestamps cost the database ~0.2 s and ~11 bytes of CSV a row.
_WINDOW_PLAIN = frozenset({frames.ID, "predicted_label", "predicted_value", "score", "label", "value"})


def window_event_columns(
    session: Session, model_id: int, spec: VersionSpec, start: datetime, end: datetime, *, slices: int = 1
) -> EventColumns:
    """Every committed prediction of ``spec`` with event time in [start, end), with its stored
    outcome, in columns (no version and no time: ``_WINDOW_PLAIN``): read in ``slices`` equal
    time slices at once (``map_sliced``: one snapshot), concatenated by time slice; within a
    slice the database's order."""
    return EventColumns(concatenated(map_window_slices(session, model_id, spec, (start, end), slices, _same)))


def _same(events: EventColumns) -> Columns:
    return dict(events.columns)


def map_window_slices(
    session: Session,
    model_id: int,
    spec: VersionSpec,
    window: tuple[datetime, datetime],
    slices: int,
    each: Callable[[EventColumns], T],
) -> list[T]:
    """``each`` of the events of every one of ``slices`` equal time slices of ``window`` (as
    ``window_event_columns`` reads them), in time order; on Postgres each in its own thread
    (``map_sliced``)."""
    plain = [
        (column, kind)
        for column, (name, kind) in zip(_plain(session), frames.PLAIN, strict=True)
        if name in _WINDOW_PLAIN
    ]
    query = (
        select(*(column for column, _ in plain))
        .outerjoin(Outcome, _outcomes_upto(_EVERY_ID))
        .where(Prediction.model_id == model_id, Prediction.version_id == spec.version_id)
    )
    start, end = window
    step = (end - start) / max(1, slices)
    cuts = [start + step * k for k in range(max(1, slices))] + [end]
    parts = [
        query.where(Prediction.event_time >= low, Prediction.event_time < high)
        for low, high in pairwise(cuts)
    ]
    kinds = [kind for _, kind in plain]
    return map_sliced(
        session, parts, kinds, _fields([spec]), each=lambda columns: each(EventColumns(columns))
    )


def window_unfolded(session: Session, model_id: int, version_id: int, start: datetime, end: datetime) -> bool:
    """Whether a prediction of the version with event time in [start, end), or its outcome,
    is past the model's cursor (not folded yet; a model without a cursor has folded nothing)."""
    cursor = session.get(AggregationCursor, model_id)
    p_m, o_m = (0, 0) if cursor is None else (cursor.prediction_watermark, cursor.outcome_watermark)
    in_window = and_(
        Prediction.model_id == model_id,
        Prediction.version_id == version_id,
        Prediction.event_time >= start,
        Prediction.event_time < end,
    )
    new_prediction = exists().where(in_window, Prediction.id > p_m)
    new_outcome = exists().where(
        in_window,
        Outcome.model_id == Prediction.model_id,
        Outcome.prediction_id == Prediction.prediction_id,
        Outcome.id > o_m,
    )
    return bool(session.execute(select(or_(new_prediction, new_outcome))).scalar_one())


def version_events(
    session: Session,
    model_id: int,
    version_id: int,
    *,
    predictions_upto: int,
    outcomes_upto: int,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> list[Event]:
    """One version's predictions (ids ≤ predictions_upto) by time, with outcomes ≤ outcomes_upto."""
    query = (
        _with_outcomes_upto(session, outcomes_upto)
        .where(
            Prediction.model_id == model_id,
            Prediction.version_id == version_id,
            Prediction.id <= predictions_upto,
        )
        .order_by(Prediction.event_time, Prediction.id)
    )
    if start is not None:
        query = query.where(Prediction.event_time >= start)
    if end is not None:
        query = query.where(Prediction.event_time < end)
    if limit is not None:
        query = query.limit(limit)
    return _events(session, query)


def first_event_time(session: Session, model_id: int, version_id: int) -> tuple[datetime | None, int]:
    """(earliest event time, number of predictions) of one version."""
    query = select(func.min(Prediction.event_time), func.count()).where(
        Prediction.model_id == model_id, Prediction.version_id == version_id
    )
    first, count = session.execute(query).one()
    return first, int(count)


def active_layouts(session: Session, version_ids: Sequence[int] | None = None) -> dict[int, Layout]:
    """Active layouts by version id (of ``version_ids`` when given). The reference profile
    (~30 kB each) is loaded only if read: aggregation passes and status views never do."""
    query = select(Layout).where(Layout.active.is_(True)).options(defer(Layout.reference_profile))
    if version_ids is not None:
        query = query.where(Layout.version_id.in_(version_ids))
    return {row.version_id: row for row in session.execute(query).scalars()}


def active_layout(session: Session, version_id: int) -> Layout | None:
    query = select(Layout).where(Layout.version_id == version_id, Layout.active.is_(True))
    return session.execute(query).scalar_one_or_none()


def replace_layout(session: Session, layout: Layout) -> Layout:
    """Make ``layout`` the version's only active one; the profiles of the old one are deleted."""
    old = session.execute(
        select(Layout.id).where(Layout.version_id == layout.version_id, Layout.active.is_(True))
    ).scalars()
    old_ids = list(old)
    if old_ids:
        session.execute(delete(BucketProfile).where(BucketProfile.layout_id.in_(old_ids)))
        session.execute(update(Layout).where(Layout.id.in_(old_ids)).values(active=False))
    session.add(layout)
    session.flush()
    return layout


ProfileKey = tuple[int, datetime]  # (level, start)


def delete_profiles(session: Session, layout_id: int) -> None:
    """Every stored profile of a layout (before rebuilding them from the raw events)."""
    session.execute(delete(BucketProfile).where(BucketProfile.layout_id == layout_id))


def stored_profiles(session: Session, layout_id: int, keys: Iterable[ProfileKey]) -> dict[ProfileKey, Any]:
    """The stored rows (id, level, start, rows, labelled, generation, body) for ``keys``."""
    by_level: dict[int, list[datetime]] = {}
    for level, start in keys:
        by_level.setdefault(level, []).append(start)
    found: dict[ProfileKey, Any] = {}
    for level, starts in by_level.items():
        for chunk in _chunks(starts, 500):
            query = select(BucketProfile).where(
                BucketProfile.layout_id == layout_id,
                BucketProfile.level == level,
                BucketProfile.start.in_(chunk),
            )
            for row in session.execute(query).scalars():
                found[(row.level, row.start)] = row
    return found


def profile_bodies(session: Session, ids: Sequence[int]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for chunk in _chunks(list(ids), 500):
        query = select(BucketProfile.id, BucketProfile.body).where(BucketProfile.id.in_(chunk))
        out.update({int(i): bytes(b) for i, b in session.execute(query)})
    return out


def profile_bodies_at(session: Session, layout_id: int, wanted: dict[int, list[datetime]]) -> list[bytes]:
    """Bodies of the layout's stored profiles among ``wanted`` level → starts (500 starts a query)."""
    out: list[bytes] = []
    for level, starts in wanted.items():
        for chunk in _chunks(starts, 500):
            query = select(BucketProfile.body).where(
                BucketProfile.layout_id == layout_id,
                BucketProfile.level == level,
                BucketProfile.start.in_(chunk),
            )
            out.extend(bytes(b) for (b,) in session.execute(query))
    return out


def write_profiles(session: Session, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
    if new:
        session.execute(insert(BucketProfile), new)
    if changed:
        session.execute(update(BucketProfile), changed)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
