"""Bucket profiles computed where the data lives (a Spark job, a producer that keeps its rows)
and uploaded through ``POST /v1/models/{name}/profiles``; merged into ``bucket_profiles``.

Kept apart from the bucket profiles because those are rebuilt from the raw events (a held
model's retry deletes and refolds them): an upload has no raw events, so its body is kept to be
merged again. One row per (layout, bucket start, source): a producer's re-run is recognised by
``digest`` (sha256 of the profile's canonical JSON) instead of being counted twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import Base
from service.storage.types import BigIntId, UtcDateTime


class UploadedProfile(Base):
    """One uploaded profile of one layout's bucket (level 0) from one named ``source``."""

    __tablename__ = "uploaded_profiles"
    __table_args__ = (
        UniqueConstraint("layout_id", "start", "source", name="uq_uploaded_profiles_layout_start_source"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Not cascaded from a refit: the layout row stays (inactive), so its uploads stay visible
    # as stale instead of vanishing; they go with the version.
    layout_id: Mapped[int] = mapped_column(ForeignKey("layouts.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
