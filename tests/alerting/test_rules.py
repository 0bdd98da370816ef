"""The alert rules and the retraining policy as pure functions, driven with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.alerting.bands import hysteresis_band
from service.alerting.retraining import OpenAlert, decide
from service.alerting.rules import (
    NoDataRule,
    Observation,
    Phase,
    ThresholdRule,
    TrackState,
    resolve_threshold,
)
from service.monitors.plans import alerting_policy, family_policy, retraining_policy
from service.monitors.policy import FamilyRule, RetrainingSettings
from service.monitors.schemas import MonitorConfig
from service.monitors.service import config_hash

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def seen(
    i: int, status: str, value: float | None = None, threshold: float | None = 0.1, band: float = 0.02
) -> Observation:
    end = T0 + i * HOUR
    return Observation(end - 24 * HOUR, end, status, value, threshold, band)


def replay(rule: ThresholdRule, observations: list[Observation]) -> list[tuple[Phase, Phase]]:
    state, transitions = TrackState(), []
    for item in observations:
        step = rule.step(state, item)
        state = step.state
        if step.transition is not None:
            transitions.append(step.transition)
    return transitions


def test_fires_after_the_configured_number_of_consecutive_alerting_windows() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=3)))
    states = []
    state = TrackState()
    for i in range(4):
        state = rule.step(state, seen(i, "alert", 0.3)).state
        states.append(state.phase)
    assert states == [Phase.PENDING, Phase.PENDING, Phase.FIRING, Phase.FIRING]


def test_a_broken_streak_drops_the_pending_alert() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=2)))
    transitions = replay(rule, [seen(0, "alert", 0.3), seen(1, "ok", 0.05), seen(2, "alert", 0.3)])
    assert transitions == [
        (Phase.NONE, Phase.PENDING),
        (Phase.PENDING, Phase.NONE),
        (Phase.NONE, Phase.PENDING),
    ]


def test_flapping_around_the_threshold_is_one_alert_not_twenty() -> None:
    """Values alternating 0.11 / 0.09 around a 0.1 threshold: fires once, never resolves,
    because 0.09 is inside the hysteresis band (resolve below 0.08)."""
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    flapping = [seen(i, "alert" if i % 2 == 0 else "ok", 0.11 if i % 2 == 0 else 0.09) for i in range(40)]
    assert replay(rule, flapping) == [(Phase.NONE, Phase.FIRING)]


def test_without_hysteresis_the_same_input_would_flap() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    flapping = [
        seen(i, "alert" if i % 2 == 0 else "ok", 0.11 if i % 2 == 0 else 0.09, band=0.0) for i in range(40)
    ]
    assert len(replay(rule, flapping)) == 40


def test_resolves_once_past_the_resolve_threshold() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    transitions = replay(rule, [seen(0, "alert", 0.3), seen(1, "ok", 0.085), seen(2, "ok", 0.079)])
    assert transitions == [(Phase.NONE, Phase.FIRING), (Phase.FIRING, Phase.RESOLVED)]


def test_a_lower_bound_resolves_above_it() -> None:
    """roc_auc ≥ 0.75 with a 0.05 band: fires below 0.75, resolves only at ≥ 0.80."""
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    assert resolve_threshold(0.75, "low", 0.05) == pytest.approx(0.80)
    auc = [
        seen(0, "alert", 0.70, 0.75, 0.05),
        seen(1, "ok", 0.79, 0.75, 0.05),
        seen(2, "ok", 0.81, 0.75, 0.05),
    ]
    assert replay(rule, auc) == [(Phase.NONE, Phase.FIRING), (Phase.FIRING, Phase.RESOLVED)]


@pytest.mark.parametrize(
    ("config", "family", "metric", "threshold", "direction", "band"),
    [
        ({}, "drift", "drift_score", 0.1, "high", 0.02),
        ({}, "performance", "roc_auc", 0.80, "low", 0.01),  # 0.2 × max_drop 0.05
        (
            {"performance": {"thresholds": {"roc_auc": {"min": 0.75}}}},
            "performance",
            "roc_auc",
            0.75,
            "low",
            0.05,
        ),
        ({}, "data_quality", "missing_rate", 0.6, "high", 0.02),  # 0.2 × the allowed increase 0.1
        ({}, "data_quality", "unseen_share", 0.05, "high", 0.01),
        ({}, "fairness", "disparate_impact_ratio", 0.8, "low", 0.04),
        ({}, "fairness", "statistical_parity_difference", 0.1, "high", 0.02),
    ],
)
def test_the_band_never_asks_for_better_than_healthy(
    config: dict[str, object], family: str, metric: str, threshold: float, direction: str, band: float
) -> None:
    found = hysteresis_band(
        alerting_policy(MonitorConfig.model_validate(config)).relative,
        0.2,
        family,
        metric,
        threshold,
        direction,
    )
    assert found == pytest.approx(band)


def test_provisional_and_insufficient_windows_never_fire() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    quiet = [seen(i, "provisional", 0.9) for i in range(5)] + [
        seen(i, "insufficient_data") for i in range(5, 10)
    ]
    assert replay(rule, quiet) == []


def test_insufficient_data_neither_resolves_nor_counts() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    state = rule.step(TrackState(), seen(0, "alert", 0.3)).state
    step = rule.step(state, seen(1, "insufficient_data"))
    assert step.state.phase is Phase.FIRING and step.transition is None


def test_a_provisional_window_is_skipped_so_its_final_evaluation_still_counts() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    state = rule.step(TrackState(), seen(5, "provisional", 0.5)).state
    assert state.last_window_end is None
    step = rule.step(state, seen(5, "alert", 0.5))
    assert step.transition == (Phase.NONE, Phase.FIRING)


def test_an_older_window_is_history_not_news() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    state = rule.step(TrackState(), seen(0, "alert", 0.3)).state
    state = rule.step(state, seen(2, "ok", 0.01)).state
    assert state.phase is Phase.NONE
    stale = rule.step(state, seen(1, "alert", 0.5))
    assert stale.state == state and stale.transition is None


def test_a_subject_no_longer_evaluated_resolves() -> None:
    rule = ThresholdRule(family_policy(FamilyRule(fire_after=1)))
    state = rule.step(TrackState(), seen(0, "alert", 0.3)).state
    step = rule.step(state, seen(1, "absent"))
    assert step.transition == (Phase.FIRING, Phase.RESOLVED)


def test_no_data_fires_after_the_silence_and_resolves_when_data_returns() -> None:
    rule = NoDataRule(7200)
    last = T0
    assert rule.step(Phase.NONE, last, T0 + timedelta(minutes=119)) is None
    assert rule.step(Phase.NONE, last, T0 + 2 * HOUR) is Phase.FIRING
    assert rule.step(Phase.FIRING, last, T0 + 3 * HOUR) is None
    assert rule.step(Phase.FIRING, T0 + 3 * HOUR, T0 + 3 * HOUR) is Phase.RESOLVED
    assert rule.step(Phase.NONE, None, T0 + 100 * HOUR) is None  # never sent: nothing expected
    assert NoDataRule(None).step(Phase.NONE, last, T0 + 1000 * HOUR) is None


# ---------------------------------------------------------------- retraining policy

NOW = T0 + 10 * 24 * HOUR


def alert(i: int, family: str, fired_hours_ago: float = 1.0, state: str = "firing") -> OpenAlert:
    return OpenAlert(
        id=i,
        family=family,
        state=state,
        version_id=1,
        fired_at=NOW - timedelta(hours=fired_hours_ago),
        window_start=NOW - 25 * HOUR + i * HOUR,
        window_end=NOW - HOUR + i * HOUR,
    )


def test_performance_must_stay_firing_for_the_set_time() -> None:
    policy = retraining_policy(RetrainingSettings(performance_firing_for=6 * 3600))
    early, _ = decide(policy, [alert(1, "performance", fired_hours_ago=5.9)], None, NOW)
    assert early is None
    due, why = decide(policy, [alert(1, "performance", fired_hours_ago=6.0)], None, NOW)
    assert due is not None and due.reasons == (1,) and why == "requested"


def test_drift_alone_does_not_request_but_drift_with_an_estimated_drop_does() -> None:
    policy = retraining_policy(RetrainingSettings())
    assert decide(policy, [alert(1, "drift")], None, NOW)[0] is None
    both, _ = decide(policy, [alert(1, "drift"), alert(2, "estimated_performance")], None, NOW)
    assert both is not None and both.reasons == (1, 2)
    assert both.window_end == alert(2, "estimated_performance").window_end  # the newest window


@pytest.mark.parametrize("state", ["pending", "firing"])
def test_a_data_quality_incident_never_requests_retraining(state: str) -> None:
    alerts = [alert(1, "performance", fired_hours_ago=48), alert(2, "data_quality", state=state)]
    decision, why = decide(retraining_policy(RetrainingSettings()), alerts, None, NOW)
    assert decision is None and "data-quality" in why


def test_the_cooldown_holds_requests_back() -> None:
    alerts = [alert(1, "performance", fired_hours_ago=48)]
    policy = retraining_policy(RetrainingSettings(cooldown=7 * 24 * 3600))
    assert decide(policy, alerts, NOW - timedelta(days=6, hours=23), NOW)[0] is None
    assert decide(policy, alerts, NOW - timedelta(days=7), NOW)[0] is not None
    assert decide(retraining_policy(RetrainingSettings(enabled=False)), alerts, None, NOW)[0] is None


def test_the_alerting_policy_is_not_part_of_the_hash_evaluations_cite() -> None:

    plain = MonitorConfig()
    assert config_hash(plain) == config_hash(
        MonitorConfig.model_validate(
            {"alerting": {"drift": {"fire_after": 5}}, "retraining": {"enabled": False}}
        )
    )
    assert config_hash(plain) != config_hash(MonitorConfig.model_validate({"drift": {"alpha": 0.01}}))
