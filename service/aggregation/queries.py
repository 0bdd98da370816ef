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
from service.storage.engine_tables import Layout


@dataclass(frozen=True, slots=True)
class AggregationProgress:
    """How far the aggregation passes have folded the event log.

    Watermarks are the highest prediction and outcome ids folded in; ``generation`` counts the
    passes; every event committed before ``folded_through`` (UTC) is folded in.
    """

    prediction_watermark: int
    outcome_watermark: int
    generation: int
    updated_at: datetime
    folded_through: datetime | None


def progress(session: Session) -> AggregationProgress | None:
    """The watermark row as read (no lock); None before the first pass."""
    row = repository.read_state(session)
    if row is None:
        return None
    return AggregationProgress(
        prediction_watermark=row.prediction_watermark,
        outcome_watermark=row.outcome_watermark,
        generation=row.generation,
        updated_at=row.updated_at,
        folded_through=row.folded_through,
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
