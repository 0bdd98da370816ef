"""The alerting pass: queued window runs → rule steps → alerts, notifications, retraining.

One pass is one transaction holding the ``alerting_state`` row (``FOR UPDATE SKIP LOCKED``):
alert state is a sequence per fingerprint, so one worker at a time advances it, and every
alert change commits together with the outbox rows that report it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from service.alerting import repository
from service.alerting.incidents import group_incidents
from service.alerting.notify import PassContext, record, refresh_muting
from service.alerting.replay import Subject, judged_rule, observe, subject_of
from service.alerting.requests import consider_retraining
from service.alerting.rules import ABSENT, NoDataRule, Observation, Phase, Step, ThresholdRule, TrackState
from service.alerting.states import NO_ALERT, AlertState
from service.failures.service import isolated
from service.kernel.states import FigureStatus
from service.monitors.plans import (
    AlertingPolicy,
    FamilyPolicy,
    NoDataPolicy,
    alerting_policy,
    family_policy,
)
from service.monitors.policy import FamilyRule
from service.monitors.queries import all_configs
from service.monitors.service import config_from_stored
from service.storage.alerting_tables import Alert, AlertQueue, AlertTrack
from service.storage.engine_tables import Evaluation, WindowRun

NO_DATA_METRIC = "seconds_since_last_prediction"
# The policy of a model with no stored configuration (the schema's defaults).
DEFAULT_POLICY = alerting_policy(config_from_stored(None))
# The rule an absent figure of a family without a rule (no longer configured) steps with.
PLAIN_RULE = family_policy(FamilyRule())


@dataclass
class PassSummary:
    claimed: bool = True
    runs: int = 0
    fired: int = 0
    resolved: int = 0
    notified: int = 0
    retrain_requests: int = 0
    remaining: int = 0
    applied_models: set[int] = field(default_factory=set)  # models whose runs were applied
    failed: dict[int, Exception] = field(default_factory=dict)  # model id → what its rules raised
    incidents_opened: int = 0
    incidents_resolved: int = 0


def fingerprint(model_id: int, version_id: int | None, subject: Subject) -> str:
    """sha256 of model, version and subject: one fingerprint per thing that can alert."""
    parts = (model_id, version_id or "", subject.family, subject.metric, subject.feature, subject.attribute)
    text = "\x1f".join(str(p) for p in (*parts, subject.group))
    return hashlib.sha256(text.encode()).hexdigest()


def alert_pass(
    session: Session, now: datetime, base_url: str, max_runs: int = 200, held: Collection[int] = ()
) -> PassSummary:
    """Apply up to ``max_runs`` queued runs in window-end order, then the no-data rule, the
    silences in force, and the retraining policy. Each model's runs are applied in a unit of
    their own (``service/failures``): a model whose rules raise keeps its runs queued and is
    reported in ``failed``; the runs of models in ``held`` (failed, retry not due) wait."""
    state = repository.claim_state(session, now)
    if state is None:
        return PassSummary(claimed=False)
    ctx = PassContext(session, now=now, base_url=base_url)
    ctx.load_silences()
    outcome = PassSummary()
    policies = _policies(session, outcome, skip=held)
    waiting = set(held) | set(outcome.failed)
    applied = apply_queue(ctx, policies, max_runs, waiting, outcome)
    repository.advance_activity(session, state)
    check_no_data(ctx, policies, skip=waiting)
    # The alerts opened or changed in this pass are in memory only (no autoflush): without
    # the flush a data-quality alert firing now would not block a retraining request.
    session.flush()
    open_alerts = repository.open_alerts(session)
    refresh_muting(ctx, open_alerts)
    opened, closed = group_incidents(ctx)  # after muting: an incident notifies per its alerts' silences
    by_model: dict[int, list[Alert]] = defaultdict(list)
    for alert in open_alerts:
        by_model[alert.model_id].append(alert)
    requested = sum(
        consider_retraining(ctx, model_id, policies.get(model_id, DEFAULT_POLICY), alerts)
        for model_id, alerts in by_model.items()
        if any(a.state == AlertState.FIRING for a in alerts) and model_id not in waiting
    )
    state.updated_at = now
    session.flush()
    remaining = repository.queued_count(session)
    return PassSummary(
        True, applied, ctx.fired, ctx.resolved, ctx.notified, requested, remaining,
        outcome.applied_models, outcome.failed, opened, closed,
    )  # fmt: skip


def _policies(session: Session, outcome: PassSummary, skip: Collection[int]) -> dict[int, AlertingPolicy]:
    """The alerting policy of every model's stored configuration but those of ``skip``; one
    that no longer validates (e.g. stored before a stricter check) fails that model's alerting
    alone."""
    policies: dict[int, AlertingPolicy] = {}
    for model_id, stored in all_configs(session).items():
        if model_id in skip:
            continue
        try:
            policies[model_id] = alerting_policy(config_from_stored(stored))
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            outcome.failed[model_id] = error
    return policies


def apply_queue(
    ctx: PassContext,
    policies: dict[int, AlertingPolicy],
    max_runs: int,
    held: Collection[int] = (),
    outcome: PassSummary | None = None,
) -> int:
    """Apply the oldest ``max_runs`` queued runs that are ready; returns how many left the queue.

    A run waits while a window of its version ending no later than its own is due and not
    evaluated at its newest data: an older window another worker still evaluates (alert
    streaks count *consecutive* windows, so they must arrive in window order whatever worker
    evaluated which), or its own window, re-opened because events landed in it after it was
    evaluated (its next revision is the one to judge). A run superseded by a newer revision
    of its window leaves the queue unapplied. The runs of a model in ``held``, or whose rules
    raise here, stay queued.
    """
    outcome = PassSummary() if outcome is None else outcome
    queue = repository.queued(ctx.session, max_runs, excluding=held)
    if not queue:
        return 0
    runs = repository.runs_by_id(ctx.session, [q.run_id for q in queue])
    ready = _ready(ctx, queue, runs)
    by_model: dict[int, list[WindowRun]] = defaultdict(list)
    for item in ready:
        run = runs.get(item.run_id)
        if run is not None and run.latest:  # a superseded revision's figures are never read
            by_model[item.model_id].append(run)
    applied = [run.id for model_runs in by_model.values() for run in model_runs]
    figures = repository.figures_of(ctx.session, applied)
    for model_id, model_runs in by_model.items():
        _apply_isolated(ctx, model_id, policies.get(model_id, DEFAULT_POLICY), model_runs, figures, outcome)
    left = [q.run_id for q in ready if q.model_id not in outcome.failed]
    repository.drop_queued(ctx.session, left)
    return len(left)


def _apply_isolated(
    ctx: PassContext,
    model_id: int,
    policy: AlertingPolicy,
    runs: list[WindowRun],
    figures: dict[int, list[Evaluation]],
    outcome: PassSummary,
) -> None:
    """``_apply_model`` in a savepoint: a model whose rules raise is rolled back alone."""
    counts = (ctx.fired, ctx.resolved, ctx.notified)
    _, error = isolated(ctx.session, _apply_model, ctx, model_id, policy, runs, figures)
    if error is None:
        outcome.applied_models.add(model_id)
    else:
        ctx.fired, ctx.resolved, ctx.notified = counts  # rolled back with the savepoint
        outcome.failed[model_id] = error


def _ready(ctx: PassContext, queue: list[AlertQueue], runs: dict[int, WindowRun]) -> list[AlertQueue]:
    """The queued runs no due, unevaluated window of their version ending at or before them holds back."""
    holding = repository.oldest_unevaluated(ctx.session, {r.version_id for r in runs.values()}, ctx.now)

    def is_ready(run: WindowRun | None) -> bool:
        oldest = holding.get(run.version_id) if run is not None else None
        return run is None or oldest is None or run.window_end < oldest

    return [q for q in queue if is_ready(runs.get(q.run_id))]


def _apply_model(
    ctx: PassContext,
    model_id: int,
    policy: AlertingPolicy,
    runs: list[WindowRun],
    figures: dict[int, list[Evaluation]],
) -> None:
    ModelRules(ctx, model_id, policy).apply(runs, figures)


class ModelRules:
    """The threshold rules of one model's fingerprints, applied run by run."""

    def __init__(self, ctx: PassContext, model_id: int, policy: AlertingPolicy) -> None:
        self.ctx, self.model_id, self.policy = ctx, model_id, policy
        self.tracks = repository.tracks_of(ctx.session, model_id)
        ids = [t.alert_id for t in self.tracks.values() if t.alert_id is not None]
        self.alerts = repository.alerts_by_id(ctx.session, ids)
        # Older windows cannot change any more (label wait over) and would page about the past.
        self.oldest = ctx.now - timedelta(seconds=policy.history)

    def apply(self, runs: list[WindowRun], figures: dict[int, list[Evaluation]]) -> None:
        for run in sorted(runs, key=lambda r: (r.window_end, r.id)):
            if run.window_end >= self.oldest:
                self.apply_run(run, figures.get(run.id, []))

    def apply_run(self, run: WindowRun, figures: list[Evaluation]) -> None:
        """The same steps as ``replay.Replay.apply`` (the backtest), on stored tracks and alerts."""
        seen: set[str] = set()
        for figure in figures:
            rule = judged_rule(self.policy, figure)
            if rule is None:
                continue
            subject = subject_of(figure)
            key = fingerprint(self.model_id, run.version_id, subject)
            seen.add(key)
            if key not in self.tracks and figure.status != FigureStatus.ALERT:
                continue  # only a subject that once alerted is tracked
            window = (run.window_start, run.window_end)
            seen_now = observe(self.policy, rule, figure, window, self._direction(key))
            self.step(key, subject, run, seen_now, rule)
        for key, track in list(self.tracks.items()):
            alert = self.alerts.get(track.alert_id) if track.alert_id is not None else None
            if alert is not None and alert.version_id == run.version_id and key not in seen:
                subject = Subject(alert.family, alert.metric, alert.feature, alert.attribute, alert.group)
                gone = Observation(run.window_start, run.window_end, ABSENT, None, None)
                self.step(key, subject, run, gone, self.policy.rule_for(alert.family) or PLAIN_RULE)

    def _direction(self, key: str) -> str:
        """The open alert's direction ("" without one)."""
        track = self.tracks.get(key)
        alert = self.alerts.get(track.alert_id) if track is not None and track.alert_id is not None else None
        return alert.direction if alert is not None else ""

    def step(self, key: str, subject: Subject, run: WindowRun, seen: Observation, rule: FamilyPolicy) -> None:
        track = self.tracks.get(key)
        if track is None:
            track = AlertTrack(fingerprint=key, model_id=self.model_id, streak=0, last_window_end=None)
            self.ctx.session.add(track)
            self.tracks[key] = track
        alert = self.alerts.get(track.alert_id) if track.alert_id is not None else None
        before = TrackState(
            Phase(alert.state) if alert else Phase.NONE,
            track.streak,
            track.last_window_end,
            alert.direction if alert else "",
        )
        result = ThresholdRule(rule).step(before, seen)
        track.streak, track.last_window_end = result.state.streak, result.state.last_window_end
        if result.state == before or (alert is None and result.transition is None):
            return
        if alert is None:
            alert = self._open(key, subject, run, rule, result)
            track.alert_id = alert.id
        self._update(alert, seen, result)
        if result.transition is not None:
            self._transition(track, alert, result, seen)

    def _open(self, key: str, subject: Subject, run: WindowRun, rule: FamilyPolicy, result: Step) -> Alert:
        alert = Alert(
            fingerprint=key,
            model_id=self.model_id,
            version_id=run.version_id,
            rule="threshold",
            family=subject.family,
            metric=subject.metric,
            feature=subject.feature,
            attribute=subject.attribute,
            group=subject.group,
            state=Phase.NONE.value,
            severity=rule.severity.value,
            direction=result.state.direction,
            summary="",
            started_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.ctx.session.add(alert)
        self.ctx.session.flush()
        self.alerts[alert.id] = alert
        return alert

    def _update(self, alert: Alert, seen: Observation, result: Step) -> None:
        if seen.value is not None:
            alert.value, alert.threshold = seen.value, seen.threshold
            alert.window_start, alert.window_end = seen.window_start, seen.window_end
            alert.resolve_threshold = result.resolve_threshold
            alert.summary = summary_of(self.ctx, alert)
        alert.updated_at = self.ctx.now

    def _transition(self, track: AlertTrack, alert: Alert, result: Step, seen: Observation) -> None:
        assert result.transition is not None
        before, after = result.transition
        if after is Phase.NONE:  # a pending streak broke: the alert never was
            self.ctx.session.delete(alert)
            self.alerts.pop(alert.id, None)
            track.alert_id = None
            return
        alert.state = after.value
        if after is Phase.FIRING:
            alert.fired_at = self.ctx.now
            self.ctx.fired += 1
        if after is Phase.RESOLVED:
            alert.resolved_at = self.ctx.now
            track.alert_id = None
            self.ctx.resolved += 1
        record(self.ctx, alert, before.value, after.value, seen.window_end)


def summary_of(ctx: PassContext, alert: Alert) -> str:
    """One line for a pager: model, version, what, value against threshold, window."""
    subject = " ".join(part for part in (alert.feature, alert.attribute, alert.group) if part)
    what = f"{alert.metric} of {subject}" if subject else alert.metric
    version = ctx.version_of(alert.version_id)
    who = f"{ctx.name_of(alert.model_id)} {version}" if version else ctx.name_of(alert.model_id)
    value = "n/a" if alert.value is None else f"{alert.value:.4g}"
    limit = "" if alert.threshold is None else f" (threshold {alert.threshold:.4g})"
    window = ""
    if alert.window_start is not None and alert.window_end is not None:
        window = f" in {alert.window_start:%Y-%m-%d %H:%M}–{alert.window_end:%Y-%m-%d %H:%M} UTC"
    return f"{who}: {what} is {value}{limit}{window}"[:1000]


def check_no_data(ctx: PassContext, policies: dict[int, AlertingPolicy], skip: Collection[int] = ()) -> None:
    """The no-data rule of every model that has sent predictions (but those in ``skip``)."""
    subject = Subject("no_data", NO_DATA_METRIC, "", "", "")
    activities = [a for a in repository.activity(ctx.session) if a.model_id not in skip]
    keys = {a.model_id: fingerprint(a.model_id, None, subject) for a in activities}
    # Every model's no-data track and alert in two queries, not two per model per pass.
    tracks = repository.tracks_by_fingerprint(ctx.session, list(keys.values()))
    alerts = repository.alerts_by_id(ctx.session, [t.alert_id for t in tracks.values() if t.alert_id])
    for activity in activities:
        no_data = policies.get(activity.model_id, DEFAULT_POLICY).no_data
        key = keys[activity.model_id]
        track = tracks.get(key)
        alert = alerts.get(track.alert_id) if track and track.alert_id else None
        phase = Phase.FIRING if alert is not None else Phase.NONE
        silent_for = (ctx.now - activity.last_received_at).total_seconds()
        after = NoDataRule(no_data.after).step(phase, activity.last_received_at, ctx.now)
        if alert is not None:
            alert.value, alert.updated_at = silent_for, ctx.now
        if after is Phase.FIRING:
            _fire_no_data(ctx, activity.model_id, key, track, no_data, silent_for)
        elif after is Phase.RESOLVED and alert is not None and track is not None:
            alert.state, alert.resolved_at, track.alert_id = AlertState.RESOLVED, ctx.now, None
            ctx.resolved += 1
            record(ctx, alert, AlertState.FIRING, AlertState.RESOLVED, None)


def _fire_no_data(
    ctx: PassContext,
    model_id: int,
    key: str,
    track: AlertTrack | None,
    no_data: NoDataPolicy,
    silent_for: float,
) -> None:
    if track is None:
        track = AlertTrack(fingerprint=key, model_id=model_id, streak=0, last_window_end=None)
        ctx.session.add(track)
    after = no_data.after
    alert = Alert(
        fingerprint=key,
        model_id=model_id,
        version_id=None,
        rule="no_data",
        family="no_data",
        metric=NO_DATA_METRIC,
        feature="",
        attribute="",
        group="",
        state=AlertState.FIRING,
        severity=no_data.severity.value,
        direction="high",
        value=silent_for,
        threshold=None if after is None else float(after),
        resolve_threshold=None,
        summary=f"{ctx.name_of(model_id)}: no predictions received for {silent_for / 60:.0f} min",
        started_at=ctx.now,
        fired_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(alert)
    ctx.session.flush()
    track.alert_id = alert.id
    ctx.fired += 1
    record(ctx, alert, NO_ALERT, AlertState.FIRING, None)
