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
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
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


# ---------------------------------------------------------------- evaluation engine


class Monitor(Base):
    """A model's monitor configuration (``service/monitors/schemas.py``); absent = defaults."""

    __tablename__ = "monitors"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Layout(Base):
    """The bins of one version (a stats ``Layout``) and its reference profile, fitted once.

    ``source`` says where the bins came from (reference, bootstrap, range) and
    ``inputs_hash`` hashes what they were fitted on; a different hash means a refit and a
    re-aggregation of the version's events. At most one layout per version is ``active``.
    """

    __tablename__ = "layouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    inputs_hash: Mapped[str] = mapped_column(String(64))
    layout_hash: Mapped[str] = mapped_column(String(64))
    layout: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    bucket_seconds: Mapped[int] = mapped_column(Integer)
    # sha256 of layout hash + reference profile bytes: what every evaluation cites.
    reference_hash: Mapped[str] = mapped_column(String(64))
    reference_profile: Mapped[bytes] = mapped_column(LargeBinary)
    reference_rows: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AggregationState(Base):
    """Watermarks of incremental aggregation: events with ids up to these are folded in.

    One row (``stream`` = "events"): aggregation reads the event tables in id order, and
    the row lock is the claim that lets one worker at a time advance it.
    """

    __tablename__ = "aggregation_state"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    prediction_watermark: Mapped[int] = mapped_column(BigInteger)
    outcome_watermark: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Every event committed before this time is folded in (set by a pass that caught up with
    # the high water read at that time); windows ending later wait to be evaluated.
    folded_through: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BucketProfile(Base):
    """A stats ``Profile`` of one version's events in one time bucket (level 0), hour
    (level 1) or UTC day (level 2), serialised; ``generation`` is the aggregation pass
    that last changed it."""

    __tablename__ = "bucket_profiles"
    __table_args__ = (
        UniqueConstraint("layout_id", "level", "start", name="uq_bucket_profiles_layout_level_start"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layouts.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(SmallInteger)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    rows: Mapped[int] = mapped_column(Integer)
    labelled: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class WindowTask(Base):
    """A window of one version that needs (re-)evaluation while ``wanted`` > ``done``.

    Workers claim due tasks with ``FOR UPDATE SKIP LOCKED``; the claim lasts as long as
    the transaction that evaluates the window, so a worker that dies releases it.
    """

    __tablename__ = "window_tasks"
    __table_args__ = (
        UniqueConstraint("version_id", "window_start", "window_end", name="uq_window_tasks_window"),
        Index("ix_window_tasks_due", "window_end"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    wanted: Mapped[int] = mapped_column(BigInteger)
    done: Mapped[int] = mapped_column(BigInteger)
    revision: Mapped[int] = mapped_column(Integer)
    # Set while the window's evaluation fails: not claimed again before then (job_failures).
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WindowRun(Base):
    """One evaluation of one window (a revision); its figures are rows of ``evaluations``."""

    __tablename__ = "window_runs"
    __table_args__ = (
        UniqueConstraint(
            "version_id", "window_start", "window_end", "revision", name="uq_window_runs_revision"
        ),
        Index("ix_window_runs_model_end", "model_id", "window_end"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer)
    latest: Mapped[bool] = mapped_column(Boolean)
    rows: Mapped[int] = mapped_column(Integer)
    labelled: Mapped[int] = mapped_column(Integer)
    # labelled / rows with a prediction (service.stats.labels.label_coverage); None without any.
    label_coverage: Mapped[float | None] = mapped_column(Float)
    layout_hash: Mapped[str] = mapped_column(String(64))
    reference_hash: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Evaluation(Base):
    """One figure of one window run. Absent subjects are stored as '' (unique-safe), served as null."""

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_run", "run_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # No foreign key: ~300 figures per window are inserted at once (see Prediction).
    run_id: Mapped[int] = mapped_column(BigInteger)
    family: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str] = mapped_column(String(128))
    attribute: Mapped[str] = mapped_column(String(256))
    group: Mapped[str] = mapped_column("group_name", String(512))
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(BigInteger)
    threshold: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(24))


# Alerting and delivery tables live beside these; importing them here puts every table in
# Base.metadata for whoever imports this module (migrations, tests).
from service.storage import failure_tables as _failure_tables  # noqa: E402, F401
from service.storage import notify_tables as _notify_tables  # noqa: E402, F401
from service.storage import session_tables as _session_tables  # noqa: E402, F401
from service.storage import trust_tables as _trust_tables  # noqa: E402, F401
