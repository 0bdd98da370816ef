"""SQL of alerting: the job's claim, the run queue, tracks, alerts, silences, retraining."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, literal_column, or_, select
from sqlalchemy.orm import Session

from service.alerting.states import OPEN_STATES, AlertState
from service.storage.alerting_tables import (
    Alert,
    AlertingState,
    AlertQueue,
    AlertTrack,
    AlertTransition,
    ModelActivity,
    RetrainRequest,
    Silence,
)
from service.storage.claim import claim_singleton
from service.storage.dialect import insert_ignoring_duplicates, insert_or_update
from service.storage.engine_tables import Evaluation, WindowRun, WindowTask
from service.storage.event_tables import Prediction
from service.storage.partitions import newest_id

STREAM = "alerts"


def claim_state(session: Session, now: datetime) -> AlertingState | None:
    """Lock the alerting row (``FOR UPDATE SKIP LOCKED``); None when another worker holds it."""
    return claim_singleton(session, AlertingState, STREAM, activity_watermark=0, updated_at=now)


# ---------------------------------------------------------------- the run queue


def enqueue_run(session: Session, run: WindowRun) -> None:
    """Queue a stored run for the alerting job, in the transaction that stored it."""
    session.add(AlertQueue(run_id=run.id, model_id=run.model_id, window_end=run.window_end))


def queued(session: Session, limit: int, excluding: Collection[int] = ()) -> list[AlertQueue]:
    """The oldest ``limit`` queued runs, but those of the models in ``excluding``."""
    query = select(AlertQueue).order_by(AlertQueue.window_end, AlertQueue.run_id).limit(limit)
    if excluding:
        query = query.where(AlertQueue.model_id.not_in(list(excluding)))
    return list(session.scalars(query))


def queued_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AlertQueue)) or 0)


def oldest_unevaluated(session: Session, version_ids: set[int], now: datetime) -> dict[int, datetime]:
    """Per version, the end of its oldest window that is due (ended by ``now``) and not yet
    evaluated at its newest data; versions with none are absent."""
    if not version_ids:
        return {}
    query = (
        select(WindowTask.version_id, func.min(WindowTask.window_end))
        .where(
            WindowTask.version_id.in_(version_ids),
            WindowTask.wanted > WindowTask.done,
            WindowTask.window_end <= now,
        )
        .group_by(WindowTask.version_id)
    )
    return dict(session.execute(query).all())


def drop_queued(session: Session, run_ids: Sequence[int]) -> None:
    if run_ids:
        session.execute(delete(AlertQueue).where(AlertQueue.run_id.in_(run_ids)))


def runs_by_id(session: Session, run_ids: Sequence[int]) -> dict[int, WindowRun]:
    return {run.id: run for run in session.scalars(select(WindowRun).where(WindowRun.id.in_(run_ids)))}


def figures_of(session: Session, run_ids: Sequence[int]) -> dict[int, list[Evaluation]]:
    found: dict[int, list[Evaluation]] = defaultdict(list)
    for row in session.scalars(select(Evaluation).where(Evaluation.run_id.in_(run_ids))):
        found[row.run_id].append(row)
    return found


# ---------------------------------------------------------------- tracks and alerts


def tracks_of(session: Session, model_id: int) -> dict[str, AlertTrack]:
    query = select(AlertTrack).where(AlertTrack.model_id == model_id)
    return {track.fingerprint: track for track in session.scalars(query)}


def tracks_by_fingerprint(session: Session, fingerprints: Sequence[str]) -> dict[str, AlertTrack]:
    if not fingerprints:
        return {}
    query = select(AlertTrack).where(AlertTrack.fingerprint.in_(fingerprints))
    return {track.fingerprint: track for track in session.scalars(query)}


def alerts_by_id(session: Session, alert_ids: Sequence[int]) -> dict[int, Alert]:
    if not alert_ids:
        return {}
    return {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(alert_ids)))}


def open_alerts(session: Session, model_id: int | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.state.in_(OPEN_STATES))
    if model_id is not None:
        query = query.where(Alert.model_id == model_id)
    return list(session.scalars(query.order_by(Alert.id)))


def firing_unnotified(session: Session, alert_id: int) -> AlertTransition | None:
    """The firing transition of ``alert_id`` if it was muted (not notified) when it happened."""
    query = select(AlertTransition).where(
        AlertTransition.alert_id == alert_id,
        AlertTransition.to_state == AlertState.FIRING,
        AlertTransition.notified.is_(False),
    )
    return session.scalars(query.limit(1)).first()


def transitions_of(session: Session, alert_id: int) -> list[AlertTransition]:
    query = select(AlertTransition).where(AlertTransition.alert_id == alert_id)
    return list(session.scalars(query.order_by(AlertTransition.id)))


@dataclass(frozen=True, slots=True)
class AlertFilter:
    state: str | None = None
    model_id: int | None = None
    severity: str | None = None
    family: str | None = None
    before_id: int | None = None
    limit: int = 100
    # Only those about [active_from, active_to) (a compliance report's period): their window
    # overlaps it (they often fire after it ends), or they were open at some moment of it.
    active_from: datetime | None = None
    active_to: datetime | None = None


def list_alerts(session: Session, where: AlertFilter) -> list[Alert]:
    query = select(Alert)
    if where.state is not None:
        query = query.where(Alert.state == where.state)
    if where.model_id is not None:
        query = query.where(Alert.model_id == where.model_id)
    if where.severity is not None:
        query = query.where(Alert.severity == where.severity)
    if where.family is not None:
        query = query.where(Alert.family == where.family)
    if where.before_id is not None:
        query = query.where(Alert.id < where.before_id)
    if where.active_from is not None and where.active_to is not None:
        query = query.where(about_period(Alert, Alert.started_at, where.active_from, where.active_to))
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(where.limit)))


def about_period(table: Any, began: Any, start: datetime, end: datetime) -> Any:
    """The row (an alert or an incident: ``window_start``, ``window_end``, ``resolved_at``) is
    about [start, end): its window overlaps it, or it was open at some moment of it."""
    window = and_(table.window_start < end, table.window_end > start)
    open_then = and_(began < end, or_(table.resolved_at.is_(None), table.resolved_at >= start))
    return or_(window, open_then)


def history(session: Session, alert: Alert, upto: datetime, limit: int) -> list[tuple[WindowRun, Evaluation]]:
    """The latest-revision figures of the alert's subject in windows ending ≤ ``upto``, newest first."""
    query = (
        select(WindowRun, Evaluation)
        .join(Evaluation, Evaluation.run_id == WindowRun.id)
        .where(
            WindowRun.model_id == alert.model_id,
            WindowRun.version_id == alert.version_id,
            WindowRun.latest.is_(True),
            WindowRun.window_end <= upto,
            Evaluation.family == alert.family,
            Evaluation.metric == alert.metric,
            Evaluation.feature == alert.feature,
            Evaluation.attribute == alert.attribute,
            Evaluation.group == alert.group,
        )
        .order_by(WindowRun.window_end.desc())
        .limit(limit)
    )
    return [(run, figure) for run, figure in session.execute(query)]


def statuses_in(session: Session, model_id: int, family: str, start: datetime, end: datetime) -> set[str]:
    """The statuses of the model's ``family`` figures in latest-revision windows ending in
    (``start``, ``end``] (incidents: did the label-free estimate alert?)."""
    query = (
        select(Evaluation.status)
        .join(WindowRun, Evaluation.run_id == WindowRun.id)
        .where(
            WindowRun.model_id == model_id,
            WindowRun.latest.is_(True),
            WindowRun.window_end > start,
            WindowRun.window_end <= end,
            Evaluation.family == family,
        )
        .distinct()
    )
    return {str(status) for status in session.scalars(query)}


# ---------------------------------------------------------------- activity (no data)


def advance_activity(session: Session, state: AlertingState) -> None:
    """Fold predictions received since the watermark into ``model_activity``.

    Reads only ids above the watermark (the primary key), so each pass costs what arrived
    since the last one. On Postgres an id can commit after a higher one was read; such a
    row is missed here, which at worst delays a no-data resolve until the next prediction.
    """
    newest = session.scalar(newest_id(Prediction))
    if newest is None or newest <= state.activity_watermark:
        return
    query = (
        select(Prediction.model_id, func.max(Prediction.received_at))
        .where(Prediction.id > state.activity_watermark, Prediction.id <= newest)
        .group_by(Prediction.model_id)
    )
    rows = [{"model_id": m, "last_received_at": at} for m, at in session.execute(query)]
    if rows:
        statement = insert_or_update(
            session,
            ModelActivity,
            ["model_id"],
            ["last_received_at"],
            # the newer time wins (a lower id may carry a later receipt time)
            where=ModelActivity.last_received_at < literal_column("excluded.last_received_at"),
        )
        session.execute(statement, rows)
    state.activity_watermark = newest


def activity(session: Session) -> list[ModelActivity]:
    return list(session.scalars(select(ModelActivity)))


# ---------------------------------------------------------------- silences


def active_silences(session: Session, now: datetime) -> list[Silence]:
    query = select(Silence).where(
        Silence.expired_at.is_(None), Silence.ends_at > now, Silence.starts_at <= now
    )
    return list(session.scalars(query))


def list_silences(session: Session, state: str, now: datetime) -> list[Silence]:
    query = select(Silence)
    active = (Silence.expired_at.is_(None)) & (Silence.ends_at > now)
    if state == "active":
        query = query.where(active)
    elif state == "expired":
        query = query.where(or_(Silence.expired_at.is_not(None), Silence.ends_at <= now))
    return list(session.scalars(query.order_by(Silence.id.desc())))


# ---------------------------------------------------------------- retraining


def last_retrain_at(session: Session, model_id: int) -> datetime | None:
    query = select(func.max(RetrainRequest.created_at)).where(RetrainRequest.model_id == model_id)
    return session.scalar(query)


def add_retrain(session: Session, row: dict[str, object]) -> bool:
    """Insert a retraining request unless its idempotency key exists; True when inserted."""
    statement = insert_ignoring_duplicates(session, RetrainRequest, ["idempotency_key"]).values(**row)
    inserted = session.execute(statement.returning(RetrainRequest.id)).scalar_one_or_none()
    return inserted is not None


def retrain_requests(session: Session, model_id: int | None, limit: int) -> list[RetrainRequest]:
    query = select(RetrainRequest)
    if model_id is not None:
        query = query.where(RetrainRequest.model_id == model_id)
    return list(session.scalars(query.order_by(RetrainRequest.id.desc()).limit(limit)))


def latest_run(session: Session, version_id: int, start: datetime, end: datetime) -> WindowRun | None:
    query = select(WindowRun).where(
        WindowRun.version_id == version_id,
        WindowRun.window_start == start,
        WindowRun.window_end == end,
        WindowRun.latest.is_(True),
    )
    return session.scalars(query).first()


def alerts_to_push(session: Session, resolved_since: datetime) -> list[Alert]:
    """Unsilenced alerts that are firing or resolved at or after ``resolved_since``, in id order
    (what Alertmanager is told)."""
    wanted = or_(
        Alert.state == AlertState.FIRING,
        and_(Alert.state == AlertState.RESOLVED, Alert.resolved_at >= resolved_since),
    )
    query = select(Alert).where(wanted, Alert.silenced_by.is_(None)).order_by(Alert.id)
    return list(session.scalars(query))


# ---------------------------------------------------------------- one version (model cards)


def _of_version(model_id: int, version_id: int) -> Any:
    # Alerts without a version (no data) belong to every version of the model.
    return (Alert.model_id == model_id) & or_(Alert.version_id == version_id, Alert.version_id.is_(None))


def open_alerts_of_version(session: Session, model_id: int, version_id: int) -> list[Alert]:
    query = select(Alert).where(_of_version(model_id, version_id), Alert.state.in_(OPEN_STATES))
    return list(session.scalars(query.order_by(Alert.id)))


def resolved_alerts_of_version(session: Session, model_id: int, version_id: int, limit: int) -> list[Alert]:
    query = select(Alert).where(_of_version(model_id, version_id), Alert.state == AlertState.RESOLVED)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def retrain_requests_of_version(
    session: Session, version_id: int, limit: int, created: tuple[datetime, datetime] | None = None
) -> list[RetrainRequest]:
    query = select(RetrainRequest).where(RetrainRequest.version_id == version_id)
    if created is not None:
        query = query.where(RetrainRequest.created_at >= created[0], RetrainRequest.created_at < created[1])
    return list(session.scalars(query.order_by(RetrainRequest.id.desc()).limit(limit)))


def open_alert_counts(session: Session) -> dict[int, dict[str, int]]:
    """Per model, the number of its alerts in each open state (one query)."""
    rows = session.execute(
        select(Alert.model_id, Alert.state, func.count())
        .where(Alert.state.in_(OPEN_STATES))
        .group_by(Alert.model_id, Alert.state)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for model_id, state, count in rows:
        counts.setdefault(int(model_id), {})[str(state)] = int(count)
    return counts


# ---------------------------------------------------------------- metrics snapshot


def firing_counts(session: Session) -> list[tuple[int, str, int]]:
    """(model id, severity, count) of firing alerts, silenced ones included (they still fire)."""
    query = (
        select(Alert.model_id, Alert.severity, func.count())
        .where(Alert.state == AlertState.FIRING)
        .group_by(Alert.model_id, Alert.severity)
    )
    return [(int(m), str(s), int(c)) for m, s, c in session.execute(query)]


def last_received(session: Session) -> dict[int, datetime]:
    """When each model's newest prediction was received, as the alerting job last recorded it."""
    query = select(ModelActivity.model_id, ModelActivity.last_received_at)
    return {int(m): at for m, at in session.execute(query)}
