"""What other packages read of the aggregation domain: its progress, the active layouts and
the stored bucket profiles. Callers pass their own session (one transaction per request or job,
opened at the edge); the SQL stays in `aggregation/repository.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.aggregation import repository
from service.kernel import grid
from service.stats.layout import Layout as BinLayout
from service.stats.profile import Profile, merge_all
from service.stats.serialize import profile_from_bytes
from service.storage.engine_tables import Layout


@dataclass(frozen=True, slots=True)
class AggregationProgress:
    """How far the aggregation passes have folded the event log, of one model or of all.

    Watermarks are the highest prediction and outcome ids folded in; ``generation`` counts the
    passes; every event committed before ``folded_through`` (UTC) is folded in. Over all models
    (``progress``): the lowest watermarks and ``folded_through`` (the model furthest behind),
    the highest generation and the latest ``updated_at`` (the last pass of any model).
    """

    prediction_watermark: int
    outcome_watermark: int
    generation: int
    updated_at: datetime
    folded_through: datetime | None


def model_progress(session: Session) -> dict[int, AggregationProgress]:
    """Each model's cursor as read (no lock), by model id; a model without one has had
    nothing folded."""
    return {
        row.model_id: AggregationProgress(
            prediction_watermark=row.prediction_watermark,
            outcome_watermark=row.outcome_watermark,
            generation=row.generation,
            updated_at=row.updated_at,
            folded_through=row.folded_through,
        )
        for row in repository.read_cursors(session)
    }


def progress(session: Session) -> AggregationProgress | None:
    """Every model's cursor summed up (see ``AggregationProgress``); None before the first pass."""
    cursors = list(model_progress(session).values())
    if not cursors:
        return None
    folded = [c.folded_through for c in cursors]
    return AggregationProgress(
        prediction_watermark=min(c.prediction_watermark for c in cursors),
        outcome_watermark=min(c.outcome_watermark for c in cursors),
        generation=max(c.generation for c in cursors),
        updated_at=max(c.updated_at for c in cursors),
        folded_through=None if None in folded else min(f for f in folded if f is not None),
    )


def committed_high_water(session: Session) -> tuple[int, int]:
    """(max prediction id, max outcome id) below which every row is committed; see the repository."""
    return repository.committed_high_water(session)


def active_layouts(session: Session, version_ids: Sequence[int] | None = None) -> dict[int, Layout]:
    """Active layout rows by version id, reference profile deferred (one query).

    Rows of `engine_tables`, which windows and the monitor view share with aggregation.
    """
    return repository.active_layouts(session, version_ids)


def active_layout(session: Session, version_id: int) -> Layout | None:
    return repository.active_layout(session, version_id)


def profile_bodies(session: Session, ids: Sequence[int]) -> dict[int, bytes]:
    """Serialized bucket profiles by id (chunks of 500 ids per query)."""
    return repository.profile_bodies(session, ids)


def range_profile(
    session: Session, version_id: int, start: datetime, end: datetime
) -> tuple[BinLayout, Profile] | None:
    """The active layout of a version and the merge of its stored profiles tiling [start, end)
    (``start`` and ``end`` floored to the bucket grid); None before the version has a layout.

    Day, hour and bucket pieces (``grid.pieces``), so a month costs ~30 profile reads; for
    those outside the engine (an incident's slices), which may not import ``windows``."""
    row = repository.active_layout(session, version_id)
    if row is None:
        return None
    layout = BinLayout.from_dict(row.layout)
    bucket = row.bucket_seconds
    wanted = grid.pieces(grid.floor(start, bucket), grid.floor(end, bucket), bucket=bucket)
    bodies = repository.profile_bodies_at(session, row.id, wanted)
    return layout, merge_all([profile_from_bytes(b) for b in bodies], layout=layout)
