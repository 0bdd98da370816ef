"""Tables of the ingested events: predictions and outcomes. Why they look as they do:
docs/schema.md.

The two hot tables take every ingested record. Each has a surrogate ``id`` that grows with
insertion order (the watermark incremental aggregation reads from), one unique key that makes
resends idempotent, and — for predictions — one index for time-range scans by model. Nothing
else is indexed on them: every index is paid on each of the ~10^4–10^5 rows/s inserted.

On Postgres both are range-partitioned by time (``predictions`` by ``event_time``, ``outcomes``
by ``received_at``: a label may arrive months after its prediction, and retention drops a
partition only once nothing in it can still be needed; storage/partitions.py). A unique key on
a partitioned table must contain the partition key, so the idempotency key moves to a narrow
unpartitioned table per event table (``prediction_keys``, ``outcome_keys``) written in the same
transaction; the event tables keep a plain ``(model_id, prediction_id)`` index for the join,
and ``(model_id, id)`` for the per-model reads after a watermark. ``id`` is filled from one
sequence shared by all partitions (Postgres 15 has no identity column on a partitioned table).
SQLite keeps the unpartitioned tables with the unique key. Objects of one database only carry
``info={"dialect": …}``; ``include_object`` leaves the others out of schema comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

ONLY_POSTGRES = {"dialect": "postgresql"}
ONLY_SQLITE = {"dialect": "sqlite"}
# Partitions are tables of their own that no model describes: <table>_pYYYYMMDD.
PARTITION_NAME = re.compile(r"^(predictions|outcomes)_p\d{8}$")


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for ``dialect``: leaves out the objects marked for another
    database and the partitions of the event tables."""

    def include(item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and PARTITION_NAME.match(name):
            return False
        info = getattr(item if compare_to is None or not reflected else compare_to, "info", {})
        return bool(info.get("dialect", dialect) == dialect)

    return include


class Prediction(Base):
    """One prediction as the model sent it (raw event)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(*EVENT_KEY, name="uq_predictions_model_prediction", info=ONLY_SQLITE),
        Index("ix_predictions_model_time", "model_id", "event_time"),
        Index("ix_predictions_model_prediction", *EVENT_KEY, info=ONLY_POSTGRES),
        # A model's aggregation pass reads ``model_id = m AND id > watermark AND id <= high water``.
        Index("ix_predictions_model_id", "model_id", "id"),
        # Erasure finds a subject's rows; partial, so records without a subject cost nothing.
        Index(
            "ix_predictions_subject",
            "subject_id",
            postgresql_where=text("subject_id IS NOT NULL"),
            sqlite_where=text("subject_id IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (event_time)"},
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
    # The numeric features again, packed (storage/columnar.py: pack_floats) in the order of
    # the version's schema: reads take them from here instead of the document, ~2.5× faster
    # on Postgres. NULL for rows stored before 0014 (those are read from ``features``).
    numbers: Mapped[bytes | None] = mapped_column(LargeBinary)
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
        UniqueConstraint(*EVENT_KEY, name="uq_outcomes_model_prediction", info=ONLY_SQLITE),
        Index("ix_outcomes_model_prediction", *EVENT_KEY, info=ONLY_POSTGRES),
        Index("ix_outcomes_model_id", "model_id", "id"),  # a model's aggregation pass, as above
        {"postgresql_partition_by": "RANGE (received_at)"},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see Prediction
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    value: Mapped[float | None] = mapped_column(Float)
    outcome_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(16))


class PredictionKey(Base):
    """Postgres: the idempotency key of ``predictions`` across its partitions, one row per
    stored prediction, written in the same transaction; ``event_time`` names its partition."""

    __tablename__ = "prediction_keys"
    __table_args__ = ({"info": ONLY_POSTGRES},)

    model_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)


class OutcomeKey(Base):
    """Postgres: the idempotency key of ``outcomes`` across its partitions (see PredictionKey)."""

    __tablename__ = "outcome_keys"
    __table_args__ = ({"info": ONLY_POSTGRES},)

    model_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
