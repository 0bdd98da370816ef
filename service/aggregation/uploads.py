"""SQL of uploaded bucket profiles (``storage/upload_tables.py``): what the upload endpoint
(``service/profiles``) stores and what a rebuild of a layout's profiles merges again.

An upload is a delta on the stored bucket profiles, exactly like a fold of events; the raw
events behind it never reach this server, so a rebuild (``service._rebuild``) cannot refold
them and merges the stored uploads instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.aggregation import repository
from service.errors import Unavailable
from service.stats.profile import Profile
from service.stats.serialize import profile_from_bytes
from service.storage.dialect import lock_timed_out
from service.storage.engine_tables import AggregationCursor
from service.storage.engine_tables import Layout as LayoutRow
from service.storage.upload_tables import UploadedProfile

UploadKey = tuple[datetime, str]  # (bucket start, source)
# A worker's pass holds a model's cursor ~2.3 s (100,000 rows at ~44,000 rows/s); an upload
# waits for it like an on-demand window does (aggregation/cursors.py: FOLD_NOW_LOCK_TIMEOUT).
LOCK_TIMEOUT = "10s"
# The row type of a layout, for callers above aggregation (they read it, never query it).
LayoutRecord = LayoutRow
# Keys per IN (...) look-up: two parameters each, well under SQLite's 32,766 limit.
KEYS_PER_QUERY = 500


def lock_cursor(session: Session, model_id: int, now: datetime) -> AggregationCursor:
    """The model's aggregation cursor, locked until the transaction ends; waits up to
    ``LOCK_TIMEOUT`` for a worker folding the model, then ``Unavailable`` (503, retry).

    Uploads read-modify-write the same bucket profiles as the model's passes, so they take the
    pass's lock rather than lose one of the two writes; the generation they bump makes cached
    copies of the rewritten profiles stale (profiles are cached by id and generation)."""
    repository.ensure_cursors(session, [model_id], now)
    try:
        cursor = repository.claim_cursor(session, model_id, LOCK_TIMEOUT)
    except OperationalError as error:
        if not lock_timed_out(error):
            raise
        raise Unavailable(
            f"a worker has been folding this model's events for over {LOCK_TIMEOUT}; retry shortly",
            headers={"Retry-After": "5"},
        ) from error
    assert cursor is not None  # ensured above, and a cursor goes only with its model
    return cursor


def stored_digests(session: Session, layout_id: int, keys: Iterable[UploadKey]) -> dict[UploadKey, str]:
    """Digests of the uploads already stored among ``keys``."""
    wanted = list(keys)
    found: dict[UploadKey, str] = {}
    for i in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = [tuple_(start, source) for start, source in wanted[i : i + KEYS_PER_QUERY]]
        query = select(UploadedProfile.start, UploadedProfile.source, UploadedProfile.digest).where(
            UploadedProfile.layout_id == layout_id,
            tuple_(UploadedProfile.start, UploadedProfile.source).in_(chunk),
        )
        found.update({(start, source): digest for start, source, digest in session.execute(query)})
    return found


def add_uploads(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(UploadedProfile), list(rows))


def layout_uploads(session: Session, layout_id: int, chunk: int) -> Iterator[list[tuple[datetime, Profile]]]:
    """Every upload of a layout as (bucket start, profile), ``chunk`` at a time (~30 kB each
    parsed: a rebuild holds ``chunk`` of them, not all)."""
    ids = session.execute(
        select(UploadedProfile.id).where(UploadedProfile.layout_id == layout_id).order_by(UploadedProfile.id)
    ).scalars()
    every = list(ids)
    for i in range(0, len(every), chunk):
        query = select(UploadedProfile.start, UploadedProfile.body).where(
            UploadedProfile.id.in_(every[i : i + chunk])
        )
        yield [(start, profile_from_bytes(body)) for start, body in session.execute(query)]


def upload_counts(session: Session, version_id: int) -> dict[int, tuple[int, int]]:
    """Layout id → (uploaded bucket profiles, rows in them) of every layout of one version."""
    query = (
        select(UploadedProfile.layout_id, func.count(), func.coalesce(func.sum(UploadedProfile.rows), 0))
        .join(LayoutRow, LayoutRow.id == UploadedProfile.layout_id)
        .where(LayoutRow.version_id == version_id)
        .group_by(UploadedProfile.layout_id)
    )
    return {int(layout): (int(n), int(rows)) for layout, n, rows in session.execute(query)}
