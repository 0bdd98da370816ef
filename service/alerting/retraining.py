"""When firing alerts request retraining (pure): the ``RetrainingPolicy`` (``RetrainingSettings``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.alerting.states import AlertState
from service.monitors.plans import RetrainingPolicy

# A data-quality incident (schema break, null spike, unseen categories) blocks retraining
# while it is open, pending included: training on broken data makes the model worse.
BLOCKING_FAMILIES = frozenset({"data_quality"})


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    family: str
    state: str
    version_id: int | None
    fired_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    """Request retraining for ``reasons`` (alert ids); the trigger window is the newest of theirs."""

    reasons: tuple[int, ...]
    version_id: int
    window_start: datetime
    window_end: datetime


def _reasons(policy: RetrainingPolicy, alerts: Sequence[OpenAlert], now: datetime) -> list[OpenAlert]:
    firing = [a for a in alerts if a.state == AlertState.FIRING and a.window_end is not None and a.version_id]
    held = timedelta(seconds=policy.performance_firing_for)
    reasons = [a for a in firing if a.family == "performance" and a.fired_at and now - a.fired_at >= held]
    drift = [a for a in firing if a.family == "drift"]
    estimated = [a for a in firing if a.family == "estimated_performance"]
    if policy.drift_with_estimated_drop and drift and estimated:
        reasons += estimated + drift
    return reasons


def decide(
    policy: RetrainingPolicy, alerts: Sequence[OpenAlert], last_request_at: datetime | None, now: datetime
) -> tuple[RetrainDecision | None, str]:
    """The decision (None: do not request) and why, for the log."""
    if not policy.enabled:
        return None, "retraining requests are disabled"
    reasons = _reasons(policy, alerts, now)
    if not reasons:
        return None, "no alert calls for retraining"
    blocking = [a.id for a in alerts if a.family in BLOCKING_FAMILIES]
    if blocking:
        return (
            None,
            f"a data-quality incident is open (alerts {blocking}): retraining on broken data is refused",
        )
    if last_request_at is not None and now - last_request_at < timedelta(seconds=policy.cooldown):
        return None, f"in cooldown since the request at {last_request_at.isoformat()}"
    trigger = max(reasons, key=lambda a: (a.window_end, a.id))
    assert trigger.version_id is not None and trigger.window_start and trigger.window_end
    ids = tuple(sorted({a.id for a in reasons}))
    return RetrainDecision(ids, trigger.version_id, trigger.window_start, trigger.window_end), "requested"
