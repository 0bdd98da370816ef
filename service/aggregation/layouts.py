"""Fitting a version's layout (bins) and reference profile, once per set of inputs.

Where the bins come from, in order: a ``range`` reference in the binning plan
(the version's own traffic in that range); the version's uploaded reference rows; else
a bootstrap on the version's first ``bootstrap_rows`` predictions. The bootstrap waits
until that many rows exist or the first row is one window old, and needs ``min_rows``.

``inputs_hash`` hashes what the fit depends on (source, reference content hash or range,
the plan's layout inputs, the version's spec hash) but not the bootstrap rows
themselves, so a bootstrapped layout is not refitted as traffic grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

import orjson
from sqlalchemy.orm import Session

from service.aggregation import repository
from service.aggregation.frames import EventRow, to_batch
from service.monitors.plans import BinningPlan
from service.monitors.schemas import ReferenceKind
from service.registry import queries as registry
from service.registry.service import VersionSpec
from service.stats.layout import Layout, fit_layout
from service.stats.profile import reference_profile
from service.stats.serialize import profile_to_bytes
from service.storage.engine_tables import Layout as LayoutRow


@dataclass(frozen=True, slots=True)
class LayoutPlan:
    """What the version's layout should be fitted on; ``rows`` is None while it must wait."""

    source: str
    inputs_hash: str
    rows: Sequence[Sequence[Any]] | None
    offset: int = 0  # where the EventRow fields start in each row (frames.to_batch)


def intersections_of(binning: BinningPlan, spec: VersionSpec) -> list[tuple[str, ...]]:
    """Configured intersections the version has, or every pair of 2–3 declared attributes."""
    attributes = sorted(spec.protected_attributes)
    if binning.intersections is not None:
        known = set(attributes)
        return [c for c in binning.intersections if set(c) <= known]
    return list(combinations(attributes, 2)) if 2 <= len(attributes) <= 3 else []


# The rules ``fit_layout`` fits bins by. A change of them changes every inputs hash, so every
# version's layout is refitted (and its stored events re-aggregated) once after an upgrade.
# 2: one bin per value for discrete numeric features; score bins at reference score quantiles.
FIT_RULES = 2


def _hash(source: str, detail: object, binning: BinningPlan, spec_hash: str) -> str:
    body = {
        "source": source,
        "detail": detail,
        "config": binning.inputs,
        "spec": spec_hash,
        "rules": FIT_RULES,
    }
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class VersionKey:
    model_id: int
    version_id: int
    spec_hash: str


def plan_layout(
    session: Session,
    key: VersionKey,
    binning: BinningPlan,
    reference: registry.StoredReference | None,
    *,
    now: datetime,
    watermarks: tuple[int, int],
    current_hash: str | None,
    max_rows: int,
) -> LayoutPlan:
    """The plan; rows are read only when ``current_hash`` differs from the planned hash."""
    p_upto, o_upto = watermarks
    if binning.reference.kind is ReferenceKind.RANGE:
        start, end = binning.reference.start, binning.reference.end
        assert start is not None and end is not None
        inputs = _hash("range", [start.isoformat(), end.isoformat()], binning, key.spec_hash)
        if inputs == current_hash or end > now:
            return LayoutPlan("range", inputs, None)
        events = repository.version_events(
            session, key.model_id, key.version_id, predictions_upto=p_upto, outcomes_upto=o_upto,
            start=start, end=end, limit=max_rows,
        )  # fmt: skip
        rows = events if len(events) >= binning.min_rows else None
        return LayoutPlan("range", inputs, rows, repository.EVENT_OFFSET)
    if reference is not None:
        inputs = _hash("reference", reference.content_hash, binning, key.spec_hash)
        stored = None if inputs == current_hash else _reference_events(session, reference.id)
        return LayoutPlan("reference", inputs, stored)
    inputs = _hash("bootstrap", None, binning, key.spec_hash)
    if inputs == current_hash:
        return LayoutPlan("bootstrap", inputs, None)
    first, count = repository.first_event_time(session, key.model_id, key.version_id)
    old_enough = first is not None and now - first >= timedelta(seconds=binning.window)
    if count < binning.min_rows or (count < binning.bootstrap_rows and not old_enough):
        return LayoutPlan("bootstrap", inputs, None)
    events = repository.version_events(
        session, key.model_id, key.version_id, predictions_upto=p_upto, outcomes_upto=o_upto,
        limit=binning.bootstrap_rows,
    )  # fmt: skip
    rows = events if len(events) >= binning.min_rows else None
    return LayoutPlan("bootstrap", inputs, rows, repository.EVENT_OFFSET)


def fit(
    plan: LayoutPlan, spec: VersionSpec, binning: BinningPlan, version_id: int, now: datetime
) -> LayoutRow:
    """A new layout row: bins fitted on the plan's rows and their reference profile."""
    assert plan.rows is not None
    batch = to_batch(spec, plan.rows, offset=plan.offset)
    layout = fit_layout(
        task=spec.task.value,
        reference=batch,
        positive_label=spec.positive_label,
        classes=list(spec.classes) or None,
        intersections=intersections_of(binning, spec),
    )
    profile = profile_to_bytes(reference_profile(layout, batch))
    reference_hash = hashlib.sha256(layout.content_hash.encode() + profile).hexdigest()
    return LayoutRow(
        version_id=version_id,
        source=plan.source,
        inputs_hash=plan.inputs_hash,
        layout_hash=layout.content_hash,
        layout=layout.to_dict(),
        bucket_seconds=binning.bucket,
        reference_hash=reference_hash,
        reference_profile=profile,
        reference_rows=batch.rows,
        active=True,
        created_at=now,
    )


def layout_of(row: LayoutRow) -> Layout:
    return Layout.from_dict(row.layout)


def _reference_events(session: Session, reference_id: int) -> list[EventRow]:
    return [EventRow(*row) for row in registry.reference_rows(session, reference_id)]
