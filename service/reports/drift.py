"""The rows a drift report compares: the window's predictions and the version's reference,
each a seeded uniform sample when larger than asked.

The reference is what the engine compares windows with (``service/aggregation/layouts.py``):
a ``range`` reference is the version's own traffic in that range; a ``trailing`` one the span
of the same length just before ``from``; otherwise the active uploaded reference's stored
rows, or — before one is uploaded — the version's first ``bootstrap_rows`` predictions.

Memory is bounded by the sample, not the window: the ids of a side stream from the database
in pages through a reservoir sampler (:func:`reservoir`), which keeps at most ``sample`` of
them; only the sampled rows' features are then read, in chunks, in a second short
transaction. Nothing is held open while the report renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from service.errors import FieldError, Invalid
from service.ingestion import queries as events
from service.monitors.plans import BinningPlan, binning_plan
from service.monitors.schemas import ReferenceKind
from service.monitors.service import load_config
from service.registry import queries as registry
from service.registry.service import RegisteredModel, VersionSpec, load_model, pick_version
from service.reports.schemas import DriftData, DriftRequest, Side
from service.storage.database import unit_of_work


@dataclass(frozen=True, slots=True)
class Pool:
    """One side's sample: prediction ids, or row indexes of the uploaded reference
    ``reference_id``, drawn from ``total`` rows."""

    label: str
    total: int
    picked: list[int]
    reference_id: int | None = None


def reservoir(pages: Iterable[Sequence[int]], size: int, seed: int, side: int) -> tuple[list[int], int]:
    """A uniform sample without replacement of at most ``size`` of the streamed items, and
    how many there were (Vitter's algorithm R: item i, counted from 0, replaces a uniform
    slot in [0, i] when that slot is < ``size``; memory is the sample's, whatever the stream).

    Seeded per side (``default_rng([seed, side])``), so the same rows in the same order give
    the same sample, and one side's size does not change the other's. Sorted on return."""
    rng = np.random.default_rng([seed, side])
    kept = np.empty(size, dtype=np.int64)
    seen = 0
    for page in pages:
        items = np.asarray(page, dtype=np.int64)
        fill = min(max(size - seen, 0), len(items))
        kept[seen : seen + fill] = items[:fill]
        rest = items[fill:]
        if len(rest):
            slots = rng.integers(0, np.arange(seen + fill, seen + len(items)) + 1)
            hit = slots < size
            # Applied in stream order: of two replacements of one slot, the later one stays.
            later_first_slots, later_first_items = slots[hit][::-1], rest[hit][::-1]
            _, last = np.unique(later_first_slots, return_index=True)
            kept[later_first_slots[last]] = later_first_items[last]
        seen += len(items)
    return sorted(int(i) for i in kept[: min(seen, size)]), seen


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _before(moment: datetime, span: timedelta) -> datetime:
    try:
        return moment - span
    except OverflowError:  # a range starting in year 1
        return datetime.min.replace(tzinfo=UTC)


def reference_pool(
    session: Session, model: RegisteredModel, spec: VersionSpec, binning: BinningPlan, request: DriftRequest
) -> Pool:
    """The version's reference rows, as the engine chooses them, sampled."""
    ref = binning.reference

    def sampled(label: str, **where: Any) -> Pool:
        ids = events.prediction_ids(session, model.model_id, spec.version_id, **where)
        picked, total = reservoir(ids, request.sample, request.seed, side=1)
        return Pool(label.format(total=total), total, picked)

    if ref.kind is ReferenceKind.RANGE:
        assert ref.start is not None and ref.end is not None
        label = f"range reference: traffic in [{_stamp(ref.start)}, {_stamp(ref.end)})"
        return sampled(label, start=ref.start, end=ref.end)
    if ref.kind is ReferenceKind.TRAILING:
        before = _before(request.start, request.end - request.start)
        label = f"trailing reference: traffic in [{_stamp(before)}, {_stamp(request.start)})"
        return sampled(label, start=before, end=request.start)
    active = next((r for r in registry.references_of(session, spec.version_id) if r.active), None)
    if active is None:
        return sampled(
            "bootstrap reference: the version's first {total:,} predictions", limit=binning.bootstrap_rows
        )
    indexes = [list(range(active.row_count))]
    picked, total = reservoir(indexes, request.sample, request.seed, side=1)
    return Pool(f"uploaded reference {active.id}", total, picked, reference_id=active.id)


def _no_reference(model: str, spec: VersionSpec, kind: ReferenceKind) -> Invalid:
    if kind is ReferenceKind.TRAILING:
        error = FieldError(None, "from", "no predictions in the span of the same length before `from`")
    else:
        error = FieldError(
            None, "version", f"no reference rows; upload some with POST /v1/models/{model}/reference"
        )
    return Invalid(f"version {spec.version!r} has no reference data to compare with", [error])


def _empty_window(request: DriftRequest, version: str) -> Invalid:
    message = f"no predictions of version {version!r} in [from, to)"
    return Invalid(
        f"the window [{request.start.isoformat()}, {request.end.isoformat()}) holds no predictions",
        [FieldError(None, "from", message), FieldError(None, "to", message)],
    )


def plan(
    sessions: sessionmaker[Session], name: str, request: DriftRequest
) -> tuple[str, VersionSpec, Pool, Pool]:
    """(model name, version, current sample, reference sample); 404 / 422 before any
    feature is read."""
    with unit_of_work(sessions) as session:
        model = load_model(session, name)
        spec = pick_version(model, request.version)
        config, _ = load_config(session, model.model_id)
        binning = binning_plan(config)
        ids = events.prediction_ids(
            session, model.model_id, spec.version_id, start=request.start, end=request.end
        )
        picked, total = reservoir(ids, request.sample, request.seed, side=0)
        if not total:
            raise _empty_window(request, spec.version)
        reference = reference_pool(session, model, spec, binning, request)
    if reference.total == 0:
        raise _no_reference(model.name, spec, binning.reference.kind)
    return model.name, spec, Pool("the window's predictions", total, picked), reference


def _read(session: Session, pool: Pool) -> list[dict[str, Any]]:
    if pool.reference_id is None:
        return events.prediction_features(session, pool.picked)
    return registry.reference_features(session, pool.reference_id, pool.picked)


def collect(sessions: sessionmaker[Session], name: str, request: DriftRequest) -> DriftData:
    """The sampled rows of both sides, with the feature schema of the version."""
    return read(sessions, request, plan(sessions, name, request))


def read(
    sessions: sessionmaker[Session], request: DriftRequest, planned: tuple[str, VersionSpec, Pool, Pool]
) -> DriftData:
    """The rows ``plan`` sampled, read."""
    model, spec, current, reference = planned
    with unit_of_work(sessions) as session:
        rows = [_read(session, current), _read(session, reference)]
    return DriftData(
        model=model,
        version=spec.version,
        start=request.start,
        end=request.end,
        seed=request.seed,
        numeric=tuple(n for n, is_numeric in spec.feature_kinds if is_numeric),
        categorical=tuple(n for n, is_numeric in spec.feature_kinds if not is_numeric),
        current=Side(current.label, current.total, rows[0]),
        reference=Side(reference.label, reference.total, rows[1]),
    )
