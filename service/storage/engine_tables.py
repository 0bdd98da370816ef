"""Tables of the evaluation engine: monitor configurations, layouts, aggregation cursors,
bucket profiles, window tasks and runs, evaluations and failed units of work.
Why they look as they do: docs/schema.md.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import Base
from service.storage.types import BigIntId, JsonDocument, UtcDateTime


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


class AggregationCursor(Base):
    """One model's watermarks of incremental aggregation: its events with ids up to these are
    folded in.

    A row per model: aggregation reads each model's events in id order, and the row lock is
    the claim that lets one worker at a time advance that model (``FOR UPDATE SKIP LOCKED``),
    so two workers fold two models at once. ``generation`` counts the model's passes.
    """

    __tablename__ = "aggregation_cursors"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    prediction_watermark: Mapped[int] = mapped_column(BigInteger)
    outcome_watermark: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Every event of the model committed before this time is folded in (set by a pass that
    # caught up with the high water read at that time); its windows ending later wait.
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


class JobFailure(Base):
    """A unit of work that raised and waits for its retry: one model's aggregation
    (``unit`` ""), one window evaluation (``unit`` names version and window), one model's
    alerting (""). The row exists while the unit keeps failing; its next success deletes it.
    """

    __tablename__ = "job_failures"
    __table_args__ = (UniqueConstraint("job", "model_id", "unit", name="uq_job_failures_unit"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retry_at: Mapped[datetime] = mapped_column(UtcDateTime)
