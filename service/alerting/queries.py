"""What the alerting endpoints read and change (alerts, acknowledgements, silences, requests),
and what other packages read of alerting: a version's alerts and retraining requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from service.alerting import incident_repository, repository
from service.alerting.notify import Names
from service.alerting.schemas import (
    Acknowledge,
    AlertDetail,
    AlertPage,
    AlertView,
    HistoryPoint,
    MatcherBody,
    RetrainRequestView,
    SilenceCreate,
    SilenceView,
    TransitionView,
)
from service.alerting.silencing import ActiveSilence, matchers_of
from service.alerting.states import AlertState
from service.errors import Conflict, FieldError, Invalid, NotFound
from service.storage.alerting_tables import Alert, RetrainRequest, Silence

HISTORY_WINDOWS = 100


def list_alerts(session: Session, where: repository.AlertFilter) -> AlertPage:
    alerts = repository.list_alerts(session, where)
    next_before = alerts[-1].id if alerts and len(alerts) == where.limit else None
    names = Names(session)
    return AlertPage(items=[names.view(a) for a in alerts], next_before=next_before)


def _alert_or_404(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist", [FieldError(None, "id", "unknown alert")])
    return alert


def alert_detail(session: Session, alert_id: int, now: datetime) -> AlertDetail:
    alert = _alert_or_404(session, alert_id)
    transitions = [
        TransitionView(
            from_state=t.from_state,
            to_state=t.to_state,
            at=t.at,
            window_end=t.window_end,
            value=t.value,
            silenced_by=t.silenced_by,
            notified=t.notified,
        )
        for t in repository.transitions_of(session, alert.id)
    ]
    history: list[HistoryPoint] = []
    if alert.version_id is not None:
        upto = alert.resolved_at or now
        history = [
            HistoryPoint(
                window_start=run.window_start,
                window_end=run.window_end,
                revision=run.revision,
                value=f.value,
                ci_low=f.ci_low,
                ci_high=f.ci_high,
                threshold=f.threshold,
                n=f.n,
                status=f.status,
            )
            for run, f in repository.history(session, alert, upto, HISTORY_WINDOWS)
        ]
    return AlertDetail(alert=Names(session).view(alert), transitions=transitions, history=history)


def acknowledge(session: Session, alert_id: int, body: Acknowledge, now: datetime) -> AlertView:
    """Mark an open alert as being handled; acknowledging twice keeps the first record."""
    alert = _alert_or_404(session, alert_id)
    if alert.state == AlertState.RESOLVED:
        raise Conflict(
            f"alert {alert_id} is resolved; nothing to acknowledge", [FieldError(None, "id", "resolved")]
        )
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, body.by
        alert.acknowledge_comment = body.comment or None
        session.flush()
    return Names(session).view(alert)


# ---------------------------------------------------------------- silences


def silence_view(silence: Silence, now: datetime) -> SilenceView:
    active = silence.expired_at is None and silence.starts_at <= now < silence.ends_at
    return SilenceView(
        id=silence.id,
        matchers=[MatcherBody.model_validate(m) for m in silence.matchers],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        active=active,
        created_by=silence.created_by,
        comment=silence.comment,
        created_at=silence.created_at,
        expired_at=silence.expired_at,
    )


def create_silence(session: Session, body: SilenceCreate, now: datetime) -> tuple[SilenceView, int]:
    """Store a silence; returns it and how many open alerts it mutes now."""
    if (body.ends_at is None) == (body.duration is None):
        raise Invalid(
            "give exactly one of ends_at and duration", [FieldError(None, "ends_at", "or duration")]
        )
    starts = body.starts_at or now
    ends = body.ends_at if body.ends_at is not None else starts + timedelta(seconds=body.duration or 0)
    if ends <= now:
        raise Invalid(
            "the silence would already be over", [FieldError(None, "ends_at", "must be in the future")]
        )
    if ends <= starts:
        raise Invalid(
            "the silence ends before it starts", [FieldError(None, "ends_at", "must be after starts_at")]
        )
    matchers = [m.model_dump() for m in body.matchers]
    silence = Silence(
        matchers=matchers,
        starts_at=starts,
        ends_at=ends,
        comment=body.comment,
        created_by=body.created_by,
        created_at=now,
        expired_at=None,
    )
    session.add(silence)
    session.flush()
    probe = ActiveSilence(silence.id, matchers_of(matchers), starts, ends)
    names = Names(session)
    muted = sum(1 for a in repository.open_alerts(session) if probe.mutes(names.labels(a), now))
    return silence_view(silence, now), muted


def expire_silence(session: Session, silence_id: int, now: datetime) -> SilenceView:
    """End a silence now; the record stays (``GET /v1/silences?state=expired``)."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} does not exist", [FieldError(None, "id", "unknown silence")])
    if silence.expired_at is None:
        silence.expired_at = now
        session.flush()
    return silence_view(silence, now)


def get_silence(session: Session, silence_id: int, now: datetime) -> SilenceView:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} does not exist", [FieldError(None, "id", "unknown silence")])
    return silence_view(silence, now)


def request_view(names: Names, row: RetrainRequest) -> RetrainRequestView:
    return RetrainRequestView(
        id=row.id,
        model=names.name_of(row.model_id),
        version=names.version_of(row.version_id),
        idempotency_key=row.idempotency_key,
        window_start=row.window_start,
        window_end=row.window_end,
        created_at=row.created_at,
        evidence=row.evidence,
    )


# ---------------------------------------------------------------- for other packages


def version_alerts(
    session: Session, model_id: int, version_id: int, resolved_limit: int
) -> tuple[list[AlertView], list[AlertView]]:
    """(open alerts by id, the ``resolved_limit`` newest resolved ones) of the version, alerts
    without a version (no data) included: two queries plus one name look-up per model and version."""
    names = Names(session)
    open_ = repository.open_alerts_of_version(session, model_id, version_id)
    resolved = repository.resolved_alerts_of_version(session, model_id, version_id, resolved_limit)
    return [names.view(a) for a in open_], [names.view(a) for a in resolved]


def alerts_about(session: Session, model_id: int, period: tuple[datetime, datetime], limit: int) -> AlertPage:
    """The model's ``limit`` newest alerts about ``period`` (their window overlaps it, or they
    were open during it), newest first; ``next_before`` set when there may be more."""
    where = repository.AlertFilter(model_id=model_id, limit=limit, active_from=period[0], active_to=period[1])
    return list_alerts(session, where)


@dataclass(frozen=True, slots=True)
class RetrainRecord:
    """A stored retraining request: the window (UTC) that decided it and its evidence (JSON, as
    sent to the pipeline: docs/alerting.md)."""

    id: int
    idempotency_key: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    evidence: dict[str, Any]


def version_retrain_requests(
    session: Session, version_id: int, limit: int, created: tuple[datetime, datetime] | None = None
) -> list[RetrainRecord]:
    """The version's ``limit`` newest retraining requests (created in [start, end) when
    ``created`` is given), newest first (one query)."""
    return [
        RetrainRecord(r.id, r.idempotency_key, r.window_start, r.window_end, r.created_at, r.evidence)
        for r in repository.retrain_requests_of_version(session, version_id, limit, created)
    ]


def open_alert_counts(session: Session) -> dict[int, dict[str, int]]:
    """Per model id, the number of its alerts in each open state (pending, firing); one query."""
    return repository.open_alert_counts(session)


def firing_counts(session: Session) -> list[tuple[int, str, int]]:
    """(model id, severity, count) of firing alerts, silenced ones included (they still fire);
    one query."""
    return repository.firing_counts(session)


def open_incident_counts(session: Session) -> dict[int, int]:
    """Per model id, its open incidents (one query); models without one are absent."""
    return incident_repository.open_counts(session)


def last_received(session: Session) -> dict[int, datetime]:
    """Per model id, when its newest prediction was received (UTC), as the alerting pass last
    recorded it (one query)."""
    return repository.last_received(session)
