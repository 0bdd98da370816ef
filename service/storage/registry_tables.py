"""Tables of the model registry: models, their versions and reference datasets.
Why they look as they do: docs/schema.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import LABEL_LENGTH, Base
from service.storage.types import JsonDocument, UtcDateTime


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
