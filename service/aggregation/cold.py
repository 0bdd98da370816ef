"""A window's profile straight from its raw events, for a window not folded yet.

Folding profiles every bucket apart (288 five-minute buckets in a day) and merges them;
a window wanted once, now, is cheaper profiled in one go: one columnar read of its events
(``repository.map_window_slices``, COPY + pyarrow on Postgres, in ``slices`` time slices
read at once on connections sharing the request's snapshot), one ``build_profile`` per
slice in that slice's thread, and one merge. Counts equal those of the folded window
exactly, float sums to rounding (relative 1e-12): the rows are summed in another order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.aggregation import frames, layouts, repository, uploads
from service.monitors.plans import binning_plan
from service.monitors.queries import all_configs
from service.monitors.service import config_from_stored
from service.registry import queries as registry
from service.registry.service import VersionSpec
from service.stats.layout import Layout
from service.stats.profile import Profile, build_profile, merge_all
from service.storage.sliced import slice_count

EVERY_ID = 2**62  # no id bound: every committed event and outcome


def events_profile(
    session: Session,
    model_id: int,
    spec: VersionSpec,
    layout: Layout,
    start: datetime,
    end: datetime,
    *,
    slices: int = 1,
) -> Profile:
    """The profile of ``spec``'s predictions with event time in [start, end), each with its
    outcome if one is stored, against ``layout``; read in up to ``slices`` parallel slices
    (bounded by the connection pool; one on SQLite)."""
    count = slice_count(session, slices)

    def profile(events: frames.EventColumns) -> Profile:
        return build_profile(layout, frames.batch_of(spec, events))

    parts = repository.map_window_slices(session, model_id, spec, (start, end), count, profile)
    return merge_all(parts, layout=layout)


def layout_is_current(
    session: Session, model_id: int, version_id: int, inputs_hash: str, now: datetime
) -> bool:
    """Whether the model's next pass keeps the layout of ``inputs_hash`` (its bins would not be
    refitted, so raw rows profiled against it now give what the pass will fold). Reads no
    event when the planned inputs are those of the layout."""
    found = [versions for model, versions in registry.models_with_versions(session) if model.id == model_id]
    version = next((v for v in (found[0] if found else []) if v.id == version_id), None)
    if version is None:
        return False
    binning = binning_plan(config_from_stored(all_configs(session).get(model_id)))
    plan = layouts.plan_layout(
        session, layouts.VersionKey(model_id, version_id, version.spec_hash), binning,
        registry.active_references(session).get(version_id),
        now=now, watermarks=(0, 0), current_hash=inputs_hash, max_rows=1,
    )  # fmt: skip
    return plan.inputs_hash == inputs_hash


def is_cold(
    session: Session,
    model_id: int,
    version_id: int,
    layout: tuple[int, str],
    spans: tuple[datetime, datetime, datetime],
    now: datetime,
) -> bool:
    """Whether the version's window [start, end) of ``spans`` (earliest, start, end; earliest:
    where the figures' raw rows begin, the start of a trailing reference) has events (or
    outcomes) past the model's cursor, no uploaded bucket profile from earliest to end (raw
    rows do not hold them) and a layout ``(id, inputs hash)`` that stays for them: then
    profiling its raw rows against that layout gives what folding them would."""
    earliest, start, end = spans
    if not repository.window_unfolded(session, model_id, version_id, start, end):
        return False
    if uploads.uploaded_within(session, layout[0], earliest, end):
        return False
    return layout_is_current(session, model_id, version_id, layout[1], now)
