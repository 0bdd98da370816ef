"""Tables of the ingested events: predictions and outcomes. Why they look as they do:
docs/schema.md.

The two hot tables take every ingested record. Each has a surrogate ``id`` that grows with
insertion order (the watermark incremental aggregation reads from), one unique key that makes
resends idempotent, and — for predictions — one index for time-range scans by model. Nothing
else is indexed on them: every index is paid on each of the ~10^4–10^5 rows/s inserted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import ID_LENGTH, LABEL_LENGTH, Base
from service.storage.types import BigIntId, JsonDocument, UtcDateTime

# The key both event tables share: a client id unique per model (resends are idempotent on it).
EVENT_KEY = ("model_id", "prediction_id")


class Prediction(Base):
    """One prediction as the model sent it (raw event)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(*EVENT_KEY, name="uq_predictions_model_prediction"),
        Index("ix_predictions_model_time", "model_id", "event_time"),
        # A model's aggregation pass reads ``model_id = m AND id > watermark AND id <= high water``.
        Index("ix_predictions_model_id", "model_id", "id"),
        # Erasure finds a subject's rows; partial, so records without a subject cost nothing.
        Index(
            "ix_predictions_subject",
            "subject_id",
            postgresql_where=text("subject_id IS NOT NULL"),
            sqlite_where=text("subject_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # No foreign keys on the two hot tables: Postgres checks each with a trigger per row,
    # which cost 15-30% of COPY throughput here (docs/schema.md). Both ids come from the
    # registry look-up in the same transaction, and versions are never deleted.
    model_id: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(Integer)
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    features: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    predicted_label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    predicted_value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, float] | None] = mapped_column(JsonDocument)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    attributions: Mapped[dict[str, float] | None] = mapped_column(JsonDocument)
    subject_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # 16-byte BLAKE2b of the canonical record: a resend with the same hash is a duplicate.
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(16))


class Outcome(Base):
    """The true outcome of a prediction, joined to it by ``prediction_id`` whenever either arrives."""

    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint(*EVENT_KEY, name="uq_outcomes_model_prediction"),
        Index("ix_outcomes_model_id", "model_id", "id"),  # a model's aggregation pass, as above
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see Prediction
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    value: Mapped[float | None] = mapped_column(Float)
    outcome_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(16))
