"""A window's profile straight from its raw events, for a window not folded yet.

Folding profiles every bucket apart (288 five-minute buckets in a day) and merges them;
a window wanted once, now, is cheaper profiled in one go: one columnar read of its events
(``repository.version_event_columns``, COPY + pyarrow on Postgres) and one ``build_profile``
over all its rows. Counts equal those of the folded window exactly, float sums to rounding
(relative 1e-12): the rows are summed in one order instead of bucket by bucket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.aggregation import frames, repository
from service.registry.service import VersionSpec
from service.stats.layout import Layout
from service.stats.profile import Profile, build_profile

EVERY_ID = 2**62  # no id bound: every committed event and outcome


def events_profile(
    session: Session, model_id: int, spec: VersionSpec, layout: Layout, start: datetime, end: datetime
) -> Profile:
    """The profile of ``spec``'s predictions with event time in [start, end), each with its
    outcome if one is stored, against ``layout``."""
    events = repository.version_event_columns(
        session, model_id, spec,
        predictions_upto=EVERY_ID, outcomes_upto=EVERY_ID, start=start, end=end, ordered=False,
    )  # fmt: skip
    return build_profile(layout, frames.batch_of(spec, events))
