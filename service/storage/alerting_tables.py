"""Tables of alerting: per-model state and activity, the alert queue and tracks, alerts and
their transitions, silences and retraining requests. Why they look as they do: docs/schema.md.
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
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.base import Base
from service.storage.types import BigIntId, JsonDocument, UtcDateTime


class AlertingState(Base):
    """The alerting job's claim row and watermarks (one row, ``stream`` = "alerts").

    ``activity_watermark``: predictions with ids up to it have been counted into
    ``model_activity`` (the no-data rule's input).
    """

    __tablename__ = "alerting_state"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    activity_watermark: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ModelActivity(Base):
    """When a model's newest prediction was received (the no-data rule)."""

    __tablename__ = "model_activity"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertQueue(Base):
    """Window runs not yet seen by the alerting job; written in the run's own transaction."""

    __tablename__ = "alert_queue"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    model_id: Mapped[int] = mapped_column(Integer)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertTrack(Base):
    """The rule state of one fingerprint: the streak of alerting windows and the open alert.

    ``last_window_end`` is the newest decisive window applied; an older window (a
    re-evaluation) is kept in the history but does not move the state back.
    """

    __tablename__ = "alert_tracks"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    streak: Mapped[int] = mapped_column(Integer)
    last_window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)


class Alert(Base):
    """One incident of one fingerprint: pending → firing → resolved.

    A pending alert whose streak breaks before it fires is deleted (it never notified);
    a resolved alert is never reopened — the next incident is a new row. Absent subjects
    are stored as '' like evaluations.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state_model", "state", "model_id"),
        Index("ix_alerts_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(32))
    family: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str] = mapped_column(String(128))
    attribute: Mapped[str] = mapped_column(String(256))
    group: Mapped[str] = mapped_column("group_name", String(512))
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    # "high" when the value broke an upper bound, "low" a lower one: what resolving means.
    direction: Mapped[str] = mapped_column(String(8))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    resolve_threshold: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    summary: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    silenced_by: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledge_comment: Mapped[str | None] = mapped_column(String(1000))
    # The incident it joined when it fired (service/alerting/incidents.py); None while pending.
    incident_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class Incident(Base):
    """Firing alerts of one model that share a cause and whose windows overlap: open → resolved.

    ``cause`` is the grouping key (``service/alerting/incident_rules.py``); at most one incident
    per (model, cause) is open, which a partial unique index enforces on both databases, so two
    passes that raced could not open two. ``causes`` is the ranked summary (JSON list);
    ``quiet_since`` is when its last open alert resolved (None while one is open).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_open_cause",
            "model_id",
            "cause",
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        Index("ix_incidents_state_model", "state", "model_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(1000))
    causes: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    quiet_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Whether incident.opened was sent: not while every alert in it was silenced.
    notified: Mapped[bool] = mapped_column(Boolean)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    # Every acknowledgement in order: {"by", "at", "note"} (who, when, what was done).
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    # A performance incident's top failing slices (service/alerting/incident_slices.py);
    # None for other kinds, or while none could be computed.
    slices: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDocument, nullable=True)


class AlertTransition(Base):
    """Every state change of every alert, silenced or not (the record on-call reads)."""

    __tablename__ = "alert_transitions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    value: Mapped[float | None] = mapped_column(Float)
    silenced_by: Mapped[int | None] = mapped_column(BigInteger)
    notified: Mapped[bool] = mapped_column(Boolean)


class Silence(Base):
    """Label matchers that mute notifications until ``ends_at``; deleting one expires it."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    comment: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RetrainRequest(Base):
    """A retraining request; one per (model, trigger window), so a retry never trains twice."""

    __tablename__ = "retrain_requests"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_retrain_requests_idempotency_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
