"""The decision rule of ``figures_base``: alert on evidence, watch on a point estimate alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.kernel.states import FigureStatus
from service.monitors.schemas import DecisionMode, MonitorConfig
from service.stats.intervals import MetricValue, newcombe_difference, wilson
from service.windows.figures_base import (
    Decider,
    Estimate,
    Limit,
    judged,
    provisional,
)

OK, ALERT, WATCH = FigureStatus.OK, FigureStatus.ALERT, FigureStatus.WATCH
INSUFFICIENT = FigureStatus.INSUFFICIENT_DATA
INTERVAL = Decider(DecisionMode.INTERVAL, 0.95)
POINT = Decider(DecisionMode.POINT, 0.95)


def metric(value: float | None, low: float | None, high: float | None) -> MetricValue:
    if value is None:
        return MetricValue.insufficient("m", n=0, method="wilson")
    interval = None if low is None or high is None else (low, high)
    return MetricValue.ok("m", value=value, n=100, interval=interval, method="wilson")


@pytest.mark.parametrize(
    ("value", "low", "high", "interval_status", "point_status"),
    [
        (0.05, 0.01, 0.09, OK, OK),  # inside the tolerance
        (0.10, 0.06, 0.14, OK, OK),  # equal to the threshold is not past it
        (0.14, 0.04, 0.24, WATCH, ALERT),  # past it, but the interval reaches back
        (0.14, 0.11, 0.17, ALERT, ALERT),  # the whole interval is past it
        (0.14, 0.10, 0.18, WATCH, ALERT),  # a lower bound equal to the threshold is no evidence
    ],
)
def test_an_upper_bound_alerts_only_when_the_lower_bound_is_past_it(
    value: float, low: float, high: float, interval_status: str, point_status: str
) -> None:
    limit = Limit(high=0.1)
    assert judged("fairness", metric(value, low, high), limit, INTERVAL).status == interval_status
    assert judged("fairness", metric(value, low, high), limit, POINT).status == point_status


def test_a_lower_bound_alerts_only_when_the_upper_bound_is_below_it() -> None:
    limit = Limit(low=0.8)
    assert judged("fairness", metric(0.7, 0.6, 0.85), limit, INTERVAL).status == WATCH
    assert judged("fairness", metric(0.7, 0.6, 0.79), limit, INTERVAL).status == ALERT
    assert judged("fairness", metric(0.9, 0.6, 0.99), limit, INTERVAL).status == OK


def test_no_value_is_insufficient_and_never_an_alert() -> None:
    figure = judged("performance", metric(None, None, None), Limit(low=0.9), INTERVAL)
    assert (figure.status, figure.value, figure.ci_low, figure.ci_high) == (INSUFFICIENT, None, None, None)


def test_a_figure_without_an_interval_is_decided_on_its_point() -> None:
    assert judged("explanation", metric(0.5, None, None), Limit(low=0.9), INTERVAL).status == ALERT
    assert judged("explanation", metric(0.95, None, None), Limit(low=0.9), INTERVAL).status == OK


def test_a_relative_threshold_accounts_for_the_reference_interval() -> None:
    """Window 0.70 [0.66, 0.74] against reference 0.80 − 0.05: the window's interval is wholly
    below 0.75, but the reference's own interval [0.72, 0.88] makes the difference uncertain."""
    uncertain = Limit(low=0.75, reference=Estimate(0.80, 0.72, 0.88))
    sure = Limit(low=0.75, reference=Estimate(0.80, 0.795, 0.805))
    exact = Limit(low=0.75, reference=Estimate(0.80))
    window = metric(0.70, 0.66, 0.74)
    assert judged("performance", window, uncertain, INTERVAL).status == WATCH
    assert judged("performance", window, sure, INTERVAL).status == ALERT
    assert judged("performance", window, exact, INTERVAL).status == ALERT
    assert judged("performance", window, uncertain, POINT).status == ALERT


@pytest.mark.parametrize(("x_w", "evidence"), [(90, False), (110, True)])
def test_the_relative_decision_is_newcombes_interval_for_two_proportions(x_w: int, evidence: bool) -> None:
    """With Wilson intervals on both sides, the MOVER bound is Newcombe's hybrid score bound:
    a missing rate of 90/400 or 110/400 against 300/3000 in the reference, tolerance +0.1."""
    n_w, x_r, n_r, increase = 400, 300, 3000, 0.1
    ref, win = wilson(successes=x_r, trials=n_r), wilson(successes=x_w, trials=n_w)
    limit = Limit(high=x_r / n_r + increase, reference=Estimate(x_r / n_r, *ref))
    low, _ = newcombe_difference(successes_a=x_w, trials_a=n_w, successes_b=x_r, trials_b=n_r)
    assert limit.evidenced(x_w / n_w, *win) == (low > increase) == evidence


def test_family_levels_are_bonferroni_and_nominal_in_point_mode() -> None:
    assert INTERVAL.level(1) == pytest.approx(0.95)
    assert INTERVAL.level(20) == pytest.approx(1 - 0.05 / 20)
    assert POINT.level(20) == pytest.approx(0.95)


def test_provisional_covers_watch_too() -> None:
    watched = judged("performance", metric(0.14, 0.04, 0.24), Limit(high=0.1), INTERVAL)
    assert provisional(watched).status == "provisional"


def test_the_configuration_defaults_to_interval_decisions_at_95_percent() -> None:
    config = MonitorConfig()
    assert (config.decision, config.confidence) == (DecisionMode.INTERVAL, 0.95)
    assert MonitorConfig(decision="point").decision is DecisionMode.POINT


def _family_alert_share(successes: np.ndarray, n: int, limit: Limit, confidence: float) -> float:
    """Share of rows (families) with any figure whose Wilson interval at ``confidence`` is
    evidence against ``limit``."""
    alerted = 0
    for row in successes:
        for x in row.tolist():
            low, high = wilson(successes=x, trials=n, confidence=confidence)
            if limit.evidenced(x / n, low, high):
                alerted += 1
                break
    return alerted / len(successes)


def test_simultaneous_intervals_hold_the_family_error_rate() -> None:
    """m = 18 true rates exactly at their threshold (the hardest quiet case): with intervals at
    the Bonferroni level the share of families with any alert stays at most 1 − confidence up
    to Monte-Carlo noise; with per-figure 95 % intervals it is several times that.

    Not (1 − confidence)/2: a decision is one-sided, and Wilson's two tails are uneven near 0
    (its centre is pulled towards ½, so at p = 0.1 the lower bound errs about twice as often
    as the upper one); only the two-sided coverage is what the bound can rest on."""
    rng = np.random.default_rng(5)
    m, n, p, reps = 18, 400, 0.1, 3000
    successes = rng.binomial(n, p, size=(reps, m))
    limit = Limit(high=p)
    simultaneous = _family_alert_share(successes, n, limit, INTERVAL.level(m))
    per_figure = _family_alert_share(successes, n, limit, INTERVAL.confidence)
    assert simultaneous <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)
    assert per_figure > 3 * simultaneous
