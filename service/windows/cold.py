"""A window evaluated now from its raw events, when its model's cursor is behind it.

Folding first (what ``evaluate_now`` did before) profiles and stores every bucket the
pending events touch (~5 ms a bucket, 288 for a day of 5-minute buckets) after reading them;
profiling the window's rows in one go (``aggregation.cold.events_profile``, a parallel read
on Postgres) skips the per-bucket work and stores nothing: the figures are live (revision
0), and the workers fold the events as usual. The figures equal those after a worker's pass
to rounding (counts exactly; float sums in another order, relative ~1e-12).

The reference: a stored reference profile (uploaded rows or a fitted range) is complete
whatever the cursor; a *trailing* reference (the window before) may be as unfolded as the
window, so it is profiled from its raw rows the same way rather than folded — one more read
of the same cost, and the request stays free of the model's cursor lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from service.aggregation import cold
from service.kernel import grid
from service.monitors.schemas import ReferenceKind
from service.registry.service import VersionSpec
from service.windows.figures import WindowFigures, evaluate_window
from service.windows.service import ProfileCache, Target, reference_profile


def is_cold(
    session: Session, model_id: int, spec: VersionSpec, target: Target, window: grid.Window, now: datetime
) -> bool:
    """Whether ``window`` has events not folded yet, no uploaded profiles, and a layout that
    will not be refitted before they are folded (else: fold, then the stored profiles)."""
    start, end = window
    earliest = start - timedelta(seconds=target.policy.grid.window) if _trailing(target) else start
    layout = (target.row.id, target.row.inputs_hash)
    return cold.is_cold(session, model_id, spec.version_id, layout, (earliest, start, end), now)


def _trailing(target: Target) -> bool:
    return target.policy.binning.reference.kind is ReferenceKind.TRAILING


def compute_cold(
    session: Session,
    model_id: int,
    spec: VersionSpec,
    target: Target,
    window: grid.Window,
    now: datetime,
    *,
    slices: int,
) -> WindowFigures:
    """The window's figures from its raw events (read in up to ``slices`` parallel slices)."""
    start, end = window
    profile = cold.events_profile(session, model_id, spec, target.layout, start, end, slices=slices)
    if _trailing(target):
        before = start - timedelta(seconds=target.policy.grid.window)
        reference = cold.events_profile(session, model_id, spec, target.layout, before, start, slices=slices)
    else:
        reference = reference_profile(session, target, start, ProfileCache())
    return evaluate_window(
        layout=target.layout,
        reference=reference,
        window=profile,
        policy=target.policy.evaluation,
        final=now >= end + timedelta(seconds=target.policy.grid.label_wait),
    )
