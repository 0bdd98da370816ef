"""Folding one model's new events into bucket, hour and day profiles (one pass of
``aggregation/cursors.py``, which holds the model's cursor and says why each event is counted
once).

A pass of model m brings its version layouts up to date (fitting and re-aggregating a version
whose bins changed), then reads its predictions with ids in (P_m, P'] — each joined to its
outcome if that outcome's id ≤ O' — and its outcomes with ids in (O_m, O'] whose prediction
was folded in an earlier pass (id ≤ P_m). A pair whose outcome comes in a later pass adds its
label as a ``label_delta`` to the bucket of the prediction's time, however late it comes.

Profiles are stored at three levels — the configured bucket, the hour and the UTC day —
so a 7-day window merges at most ~52 stored profiles instead of 2,016 buckets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, pairwise
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from service.aggregation import frames, layouts, prefetch, repository, uploads
from service.aggregation.frames import EventColumns
from service.aggregation.repository import ProfileKey
from service.kernel import grid
from service.kernel.durations import DAY, HOUR
from service.monitors.plans import WindowGrid, binning_plan, window_grid
from service.monitors.queries import all_configs
from service.monitors.service import config_from_stored
from service.registry import queries as registry
from service.registry.service import VersionSpec, compile_version
from service.stats.labels import label_delta
from service.stats.layout import IntArray, Layout
from service.stats.profile import Profile, build_profiles, merge_all
from service.stats.serialize import profile_from_bytes, profile_to_bytes
from service.storage.engine_tables import Layout as LayoutRow

LEVELS = 3  # 0: configured bucket, 1: hour, 2: UTC day
# Buckets folded before their profiles are written: sparse traffic touched ~750 buckets a
# pass and held ~80 MiB of profiles until the end (+150 MiB peak); 64 keep it under ~10 MiB.
STORE_EVERY = 64
# A pass's predictions are read in SLICES slices, READERS at a time on connections of their
# own, ahead of the fold profiling the slices before (``prefetch.py``).
SLICES, READERS = 4, 2


def level_seconds(level: int, bucket: int) -> int:
    return (bucket, HOUR, DAY)[level]


@dataclass(frozen=True, slots=True)
class VersionState:
    """What folding one version's events needs; ``grid`` is what scheduling its windows needs."""

    model_id: int
    model_name: str
    spec: VersionSpec
    grid: WindowGrid
    row: LayoutRow
    layout: Layout


@dataclass
class PassResult:
    """What one pass did; ``touched`` maps version id → bucket starts whose profiles changed."""

    claimed: bool
    generation: int = 0
    predictions: int = 0
    late_labels: int = 0
    rebuilt_versions: int = 0
    caught_up: bool = True
    touched: dict[int, set[datetime]] = field(default_factory=dict)
    versions: dict[int, VersionState] = field(default_factory=dict)
    failed: dict[int, Exception] = field(default_factory=dict)  # model id → what it raised
    recovered: set[int] = field(default_factory=set)  # held models rebuilt in this pass
    model_id: int | None = None  # the model whose cursor the pass claimed

    def absorb(self, part: PassResult) -> None:
        """Add a later pass of the same model (``fold_now`` runs several in one transaction)."""
        for version_id, buckets in part.touched.items():
            self.touched.setdefault(version_id, set()).update(buckets)
        self.versions.update(part.versions)
        self.failed.update(part.failed)
        self.recovered |= part.recovered
        self.generation, self.caught_up = part.generation, part.caught_up
        self.predictions += part.predictions
        self.late_labels += part.late_labels
        self.rebuilt_versions += part.rebuilt_versions


@dataclass(frozen=True, slots=True)
class Limits:
    """Rows per pass (predictions and outcomes each), reference rows read to fit bins, and
    parsed layouts by layout id kept across passes (a stored layout never changes)."""

    max_rows: int = 100_000
    max_reference_rows: int = 100_000
    parsed: dict[int, Layout] = field(default_factory=dict)


def fold_events(
    session: Session,
    model_id: int,
    result: PassResult,
    marks: tuple[tuple[int, int], tuple[int, int]],
    now: datetime,
    limits: Limits,
    rebuild: bool,
) -> tuple[int, int]:
    """Prepare the model's versions, then fold its events in (P_m, P'] and (O_m, O'] (or, for
    ``rebuild``, every stored event up to P', O'); returns (P', O')."""
    watermarks, high = marks
    _prepare_versions(session, model_id, now, marks, result, limits)
    p_new, o_new = repository.pass_bounds(session, model_id, watermarks, high, limits.max_rows)
    if rebuild:
        for state in list(result.versions.values()):
            repository.delete_profiles(session, state.row.id)
            _rebuild(session, state, (p_new, o_new), result)
        return p_new, o_new
    specs = [state.spec for state in result.versions.values()]
    slice_rows = -(-limits.max_rows // SLICES)
    cuts = repository.slice_bounds(session, model_id, watermarks[0], p_new, slice_rows)
    queries = [repository.new_predictions_query(session, a, b, o_new, model_id) for a, b in pairwise(cuts)]
    deltas = _Deltas(session, result, result.versions)
    joined = 0  # outcomes in (O_m, O'] that came joined to this pass's predictions
    with prefetch.slices_read_ahead(session, queries, specs, readers=READERS) as slices:
        for events in slices:
            _fold(deltas, events, _none(events))
            result.predictions += len(events)
            joined += frames.outcomes_after(events, watermarks[1])
    # An outcome joins one prediction, so when every new outcome came with this pass's
    # predictions none is late: the late-label query (a join over the model's folded
    # predictions, ~0.4 s a pass at 10^6 of them) is skipped.
    if repository.outcome_count(session, model_id, watermarks[1], o_new) > joined:
        late = repository.new_outcomes_of_folded(
            session, watermarks[1], o_new, watermarks[0], specs, model_id=model_id
        )
        _fold(deltas, _none(late), late)  # after the events, as their deltas are merged
        result.late_labels = len(late)
    deltas.store()
    return p_new, o_new


def _none(events: EventColumns) -> EventColumns:
    return events.take(np.empty(0, np.int64))


def _per_row(versions: IntArray, value_of: dict[int, int]) -> IntArray:
    """``value_of`` each row's version (-1 for a version not in it), one look-up per version."""
    distinct, inverse = np.unique(versions, return_inverse=True)
    return np.array([value_of.get(int(v), -1) for v in distinct], dtype=np.int64)[inverse]


@dataclass(frozen=True, slots=True)
class _Fitting:
    """What preparing a version's layout reads, loaded once per pass."""

    now: datetime
    high_water: tuple[int, int]
    watermarks: tuple[int, int]
    current: dict[int, LayoutRow]
    references: dict[int, Any]
    max_reference_rows: int
    parsed: dict[int, Layout]


def _prepare_versions(
    session: Session,
    model_id: int,
    now: datetime,
    marks: tuple[tuple[int, int], tuple[int, int]],
    result: PassResult,
    limits: Limits,
) -> None:
    """The model's versions with a usable layout (into ``result.versions``); refits (and
    re-aggregates) those whose inputs changed.

    Bins may be fitted on any committed row (up to the high water); the re-aggregation of a
    refitted version covers what earlier passes folded (up to the watermarks), and this pass
    folds the rest.
    """
    found = [(m, v) for m, v in registry.models_with_versions(session) if m.id == model_id]
    if not found:
        return  # deleted since its cursor was claimed (the cursor goes with it: ON DELETE CASCADE)
    (model, versions), (watermarks, high) = found[0], marks
    current = repository.active_layouts(session, [v.id for v in versions])
    references = registry.active_references(session)
    fitting = _Fitting(now, high, watermarks, current, references, limits.max_reference_rows, limits.parsed)
    _prepare_model(session, fitting, model, versions, all_configs(session).get(model_id), result)


def _prepare_model(
    session: Session,
    fitting: _Fitting,
    model: Any,
    versions: Sequence[Any],
    stored: dict[str, Any] | None,
    part: PassResult,
) -> None:
    config = config_from_stored(stored)  # a stored configuration that no longer validates fails here
    binning, windows = binning_plan(config), window_grid(config)
    for version in versions:
        spec = compile_version(version)
        key = layouts.VersionKey(model.id, version.id, version.spec_hash)
        row = fitting.current.get(version.id)
        plan = layouts.plan_layout(
            session, key, binning, fitting.references.get(version.id), now=fitting.now,
            watermarks=fitting.high_water, current_hash=None if row is None else row.inputs_hash,
            max_rows=fitting.max_reference_rows,
        )  # fmt: skip
        if plan.rows is not None:
            row = repository.replace_layout(
                session, layouts.fit(plan, spec, binning, version.id, fitting.now)
            )
            state = VersionState(model.id, model.name, spec, windows, row, _parsed(row, fitting.parsed))
            _rebuild(session, state, fitting.watermarks, part)
        elif row is None or row.inputs_hash != plan.inputs_hash:
            continue  # no usable layout yet; its events are folded when one is fitted
        else:
            state = VersionState(model.id, model.name, spec, windows, row, _parsed(row, fitting.parsed))
        part.versions[version.id] = state


def _parsed(row: LayoutRow, parsed: dict[int, Layout]) -> Layout:
    layout = parsed.get(row.id)
    if layout is None:
        layout = parsed[row.id] = layouts.layout_of(row)
    return layout


def _rebuild(session: Session, state: VersionState, watermarks: tuple[int, int], result: PassResult) -> None:
    """Fold every already-aggregated event of the version into its new layout's profiles."""
    events = repository.version_event_columns(
        session, state.model_id, state.spec,
        predictions_upto=watermarks[0], outcomes_upto=watermarks[1],
    )  # fmt: skip
    result.rebuilt_versions += 1
    deltas = _Deltas(session, result, {state.spec.version_id: state})
    _fold(deltas, events, _none(events))
    deltas.store()
    for chunk in uploads.layout_uploads(session, state.row.id, STORE_EVERY):
        fold_profiles(session, result, state, chunk)  # uploads have no raw events to refold


@dataclass
class _Deltas:
    """Bucket profiles (and label deltas) waiting to be merged into the stored bucket, hour and
    day profiles, stored once ``STORE_EVERY`` buckets wait: a pass read in slices stores its
    hours and its day once, not once a slice."""

    session: Session
    result: PassResult
    versions: dict[int, VersionState]
    waiting: dict[tuple[int, int, datetime], list[Profile]] = field(default_factory=lambda: defaultdict(list))
    buckets: int = 0

    def add(self, version_id: int, bucket: datetime, profile: Profile) -> None:
        self.result.touched.setdefault(version_id, set()).add(bucket)
        size = self.versions[version_id].row.bucket_seconds
        for level in range(LEVELS):
            self.waiting[(version_id, level, grid.floor(bucket, level_seconds(level, size)))].append(profile)
        self.buckets += 1
        if self.buckets >= STORE_EVERY:
            self.store()

    def store(self) -> None:
        if self.waiting:
            _store_deltas(self.session, self.versions, self.waiting, self.result.generation)
        self.waiting, self.buckets = defaultdict(list), 0


def fold_profiles(
    session: Session, result: PassResult, state: VersionState, profiles: Sequence[tuple[datetime, Profile]]
) -> None:
    """Merge ready-made level-0 bucket profiles (uploads, ``service/profiles``) as deltas into
    the stored bucket, hour and day profiles, as a fold of their events would."""
    deltas = _Deltas(session, result, {state.spec.version_id: state})
    for bucket, profile in profiles:
        deltas.add(state.spec.version_id, bucket, profile)
    deltas.store()


def _fold(deltas: _Deltas, events: EventColumns, late: EventColumns) -> None:
    """Profile ``events`` and the label deltas of ``late`` per (version, bucket) into ``deltas``."""
    work = [
        (kind, key, group, rows)
        for kind, group in (("events", events), ("labels", late))
        for key, rows in _by_bucket(group, deltas.versions)
    ]
    for (kind, version_id, _), run in groupby(work, key=_run_key):
        items = list(run)
        # At most STORE_EVERY buckets at once: sparse traffic has ~750 a pass.
        for first in range(0, len(items), STORE_EVERY):
            chunk = items[first : first + STORE_EVERY]
            group = chunk[0][2]
            profiles = _profiles(deltas.versions[version_id], kind, group, [rows for *_, rows in chunk])
            for (_, (_, bucket), _, _), profile in zip(chunk, profiles, strict=True):
                deltas.add(version_id, bucket, profile)


_Work = tuple[str, tuple[int, datetime], EventColumns, IntArray]


def _run_key(item: _Work) -> tuple[str, int, bool]:
    """Buckets profiled together: same kind and version, and, for a binary model, all with
    or all without predicted labels (``batch_of`` thresholds the scores of a batch without)."""
    kind, (version_id, _), group, rows = item
    return kind, version_id, frames.score_only(group, rows)


def _profiles(state: VersionState, kind: str, group: EventColumns, buckets: list[IntArray]) -> list[Profile]:
    """The profile (``events``) or label delta (``labels``) of each bucket's rows of ``group``:
    events of all the buckets in one ``build_profiles`` (~5 ms of Python a bucket less than
    one ``build_profile`` each), equal to them field by field."""
    bounds = np.cumsum([0, *(rows.size for rows in buckets)]).tolist()
    batch = frames.batch_of(state.spec, group.take(np.concatenate(buckets)))
    if kind == "events":
        return build_profiles(state.layout, batch, bounds)
    return [label_delta(state.layout, batch.slice(a, b)) for a, b in pairwise(bounds)]


def _store_deltas(
    session: Session,
    versions: dict[int, VersionState],
    deltas: dict[tuple[int, int, datetime], list[Profile]],
    generation: int,
) -> None:
    by_version: dict[int, dict[ProfileKey, list[Profile]]] = defaultdict(dict)
    for (version_id, level, start), profiles in deltas.items():
        by_version[version_id][(level, start)] = profiles
    for version_id, keyed in by_version.items():
        _store(session, versions[version_id], keyed, generation)


def _by_bucket(
    events: EventColumns, versions: dict[int, VersionState]
) -> list[tuple[tuple[int, datetime], IntArray]]:
    """Row positions of each (version, bucket start), sorted by that key, each in read order;
    events of versions without bins are left out. One stable argsort instead of appending
    10^5 rows a pass to Python lists."""
    version_of, seconds = events.columns[frames.VERSION], events.columns[frames.SECONDS]
    sizes = _per_row(version_of, {v: state.row.bucket_seconds for v, state in versions.items()})
    keep = np.flatnonzero(sizes > 0)
    starts = seconds[keep] // sizes[keep] * sizes[keep]
    order = np.lexsort((starts, version_of[keep]))  # stable: read order within a key
    key_version, key_start, rows = version_of[keep][order], starts[order], keep[order]
    edges = np.flatnonzero((np.diff(key_version) != 0) | (np.diff(key_start) != 0)) + 1
    bounds = [0, *edges.tolist(), rows.size]
    return [
        ((int(key_version[a]), grid.at(int(key_start[a]))), rows[a:b]) for a, b in pairwise(bounds) if b > a
    ]


def _store(
    session: Session, state: VersionState, keyed: dict[ProfileKey, list[Profile]], generation: int
) -> None:
    """Read-modify-write of the touched profiles of one version (stored + Σ deltas)."""
    stored = repository.stored_profiles(session, state.row.id, keyed)
    new, changed = [], []
    for (level, start), profiles in keyed.items():
        row = stored.get((level, start))
        parts = [profile_from_bytes(row.body)] if row is not None else []
        # A new bucket with one delta needs no merge (~0.9 ms a copy, most of a sparse pass).
        merged = (
            profiles[0]
            if not parts and len(profiles) == 1
            else merge_all(parts + profiles, layout=state.layout)
        )
        values = {
            "rows": merged.rows,
            "labelled": _labelled(merged),
            "generation": generation,
            "body": profile_to_bytes(merged),
        }
        if row is None:
            new.append({"layout_id": state.row.id, "level": level, "start": start, **values})
        else:
            changed.append({"id": row.id, **values})
    repository.write_profiles(session, new, changed)


def _labelled(profile: Profile) -> int:
    overall = profile.outcomes[()]
    for aggregate in (overall.binary, overall.multiclass, overall.regression):
        if aggregate is not None:
            return int(aggregate.labelled)
    return 0
