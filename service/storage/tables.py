"""The tables. Why they look as they do: docs/schema.md.

The two hot tables, ``predictions`` and ``outcomes``, take every ingested record. Each has
a surrogate ``id`` that grows with insertion order (the watermark incremental aggregation
reads from), one unique key that makes resends idempotent, and — for predictions — one
index for time-range scans by model. Nothing else is indexed on them: every index is paid
on each of the ~10^4–10^5 rows/s inserted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service.storage.types import BigIntId, JsonDocument, UtcDateTime

# Explicit constraint names, so migrations can drop and alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 200  # client-chosen record ids and subject ids
LABEL_LENGTH = 200  # class labels, stored in canonical text form


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Model(Base):
    """A monitored model: a name under which versions are registered."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ModelVersion(Base):
    """One registered version: its task, feature schema and provenance (``metadata``)."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(32))
    # features, protected_attributes, positive_label, classes — compared as one value.
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    spec_hash: Mapped[str] = mapped_column(String(64))
    provenance: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Prediction(Base):
    """One prediction as the model sent it (raw event)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("model_id", "prediction_id", name="uq_predictions_model_prediction"),
        Index("ix_predictions_model_time", "model_id", "event_time"),
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
    __table_args__ = (UniqueConstraint("model_id", "prediction_id", name="uq_outcomes_model_prediction"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see Prediction
    prediction_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    value: Mapped[float | None] = mapped_column(Float)
    outcome_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(16))


class Reference(Base):
    """A reference (baseline) data set of a version; at most one is active per version."""

    __tablename__ = "references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    row_count: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReferenceRow(Base):
    """One row of a reference; rows of a replaced reference are deleted, its header kept."""

    __tablename__ = "reference_rows"

    reference_id: Mapped[int] = mapped_column(
        ForeignKey("references.id", ondelete="CASCADE"), primary_key=True
    )
    row_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    features: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    predicted_label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    predicted_value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, float] | None] = mapped_column(JsonDocument)
    label: Mapped[str | None] = mapped_column(String(LABEL_LENGTH))
    value: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    attributions: Mapped[dict[str, float] | None] = mapped_column(JsonDocument)
