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
from sqlalchemy.orm import Session

from service.aggregation.repository import STREAM
from service.stats.profile import Profile
from service.stats.serialize import profile_from_bytes
from service.storage.engine_tables import AggregationState
from service.storage.engine_tables import Layout as LayoutRow
from service.storage.upload_tables import UploadedProfile

UploadKey = tuple[datetime, str]  # (bucket start, source)
# The row type of a layout, for callers above aggregation (they read it, never query it).
LayoutRecord = LayoutRow
# Keys per IN (...) look-up: two parameters each, well under SQLite's 32,766 limit.
KEYS_PER_QUERY = 500


def lock_state(session: Session) -> AggregationState | None:
    """The watermark row, locked until the transaction ends; waits for a running pass.

    Uploads read-modify-write the same bucket profiles as a pass, so they take the pass's lock
    (a pass holds it for its 1-20 s) rather than lose one of the two writes; the generation
    they bump makes cached copies of the rewritten profiles stale. None before the first pass
    (then no layout exists, so nothing can be uploaded)."""
    query = select(AggregationState).where(AggregationState.stream == STREAM).with_for_update()
    return session.execute(query).scalar_one_or_none()


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
