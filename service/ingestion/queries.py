"""What other packages read of the event tables ingestion writes: dataset exports' pages and
the predictions drift reports sample.

Callers pass their own session; the SQL stays in `ingestion/repository.py`. The domains below
ingestion's floor that read the event log themselves are listed, with their reasons, in
`tools/architecture.py: ALLOWED_TABLE_READS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.ingestion import repository
from service.ingestion.repository import ExportFilter, ExportRow

__all__ = [
    "ExportFilter",
    "ExportRow",
    "export_id_range",
    "export_page",
    "first_unfolded_received_at",
    "prediction_features",
    "prediction_ids",
]


def export_id_range(session: Session, where: ExportFilter) -> tuple[int, int] | None:
    """The smallest and largest prediction id in the window (one index scan); None when empty.
    Pages then walk the primary key inside it, so rows inserted after the export began are left out."""
    return repository.export_id_range(session, where)


def export_page(
    session: Session, where: ExportFilter, *, after_id: int, last_id: int, size: int
) -> list[ExportRow]:
    """Up to ``size`` predictions with ``after_id`` < id ≤ ``last_id`` in id order, each with its
    outcome (only those with one when ``where.labelled``): one query."""
    return repository.export_page(session, where, after_id=after_id, last_id=last_id, size=size)


def prediction_ids(
    session: Session,
    model_id: int,
    version_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Iterator[Sequence[int]]:
    """Ids of the version's predictions with ``start`` ≤ event_time < ``end`` (the first ``limit``
    when given), in event-time order, streamed in pages of 20,000 (a server-side cursor on
    Postgres) while the caller's transaction is open."""
    return repository.prediction_ids(session, model_id, version_id, start=start, end=end, limit=limit)


def prediction_features(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The stored features of the predictions ``ids``, in the order of ``ids`` (2,000 ids a query)."""
    return repository.prediction_features(session, ids)


def first_unfolded_received_at(
    session: Session, watermark: int, model_id: int | None = None
) -> datetime | None:
    """When the oldest prediction past ``watermark`` (not yet aggregated; of ``model_id`` when
    given) was received; None when there is none (a look-up on the primary key, or on the
    ``(model_id, id)`` index)."""
    return repository.first_unfolded_received_at(session, watermark, model_id)
