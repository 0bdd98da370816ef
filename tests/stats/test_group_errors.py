"""Regression fairness (per-group bias and MAE, their max − min) against fairlearn and scipy;
the intervals' coverage and the quiet-data false-alert rate by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame
from scipy import stats
from sklearn.metrics import mean_absolute_error

from service.stats.aggregates import RegressionSums
from service.stats.group_errors import ErrorRate, ErrorSums, error_bounds, regression_fairness_report

SIZES = {"a": 800, "b": 500, "c": 300}
BIAS = {"a": 0.0, "b": 0.4, "c": -0.3}  # mean error per group, in the target's unit
SPREAD = {"a": 1.0, "b": 1.5, "c": 0.8}


def _rows(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label, prediction, group): prediction = label + N(bias_g, spread_g²)."""
    rng = np.random.default_rng(seed)
    group = np.concatenate([np.full(n, g, dtype=object) for g, n in SIZES.items()])
    rng.shuffle(group)
    label = rng.normal(100.0, 20.0, group.size)
    bias = np.array([BIAS[g] for g in group])
    spread = np.array([SPREAD[g] for g in group])
    return label, label + rng.normal(bias, spread), group


def _sums(label: np.ndarray, prediction: np.ndarray, group: np.ndarray) -> dict[str, RegressionSums]:
    return {
        str(g): RegressionSums.from_arrays(predictions=prediction[group == g], actual=label[group == g])
        for g in np.unique(group)
    }


def _mean_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred - y_true))


@pytest.mark.parametrize("seed", [1, 2])
def test_groups_and_differences_equal_fairlearn(seed: int) -> None:
    label, prediction, group = _rows(seed)
    report = regression_fairness_report(attribute="g", groups=_sums(label, prediction, group))
    frame = MetricFrame(
        metrics={"mean_error": _mean_error, "mae": mean_absolute_error},
        y_true=label,
        y_pred=prediction,
        sensitive_features=group,
    )
    for g in SIZES:
        for rate in ("mean_error", "mae"):
            assert report.group(g).rate(rate).value == pytest.approx(frame.by_group[rate][g], rel=1e-9)
    differences = frame.difference()
    for rate, metric in (("mean_error", "mean_error_difference"), ("mae", "mae_difference")):
        d = report.disparity(metric)
        assert d.value == pytest.approx(differences[rate], rel=1e-9)
        assert (d.high_group, d.low_group) == (frame.by_group[rate].idxmax(), frame.by_group[rate].idxmin())
        assert d.value is not None and d.ci_low is not None and d.ci_high is not None
        assert d.ci_low <= d.value <= d.ci_high
        assert d.n == sum(SIZES.values()) and d.groups_compared == 3


def test_group_interval_is_students_t_on_the_rows() -> None:
    label, prediction, group = _rows(3)
    report = regression_fairness_report(attribute="g", groups=_sums(label, prediction, group))
    errors = (prediction - label)[group == "c"]
    for rate, values in (("mean_error", errors), ("mae", np.abs(errors))):
        expected = stats.t.interval(0.95, values.size - 1, loc=values.mean(), scale=stats.sem(values))
        got = report.group("c").rate(rate)
        assert (got.ci_low, got.ci_high) == pytest.approx(expected, rel=1e-9)


def test_two_groups_give_welchs_normal_interval() -> None:
    """With two groups both bounds are at 1 − α: θ_a − θ_b ± √(h_a² + h_b²), h a group's t half-width."""
    label, prediction, group = _rows(4)
    keep = group != "c"
    report = regression_fairness_report(
        attribute="g", groups=_sums(label[keep], prediction[keep], group[keep])
    )
    e = prediction - label
    a, b = e[group == "a"], e[group == "b"]
    half = np.hypot(*(stats.t.ppf(0.975, x.size - 1) * stats.sem(x) for x in (a, b)))
    d = report.disparity("mean_error_difference")
    value = abs(b.mean() - a.mean())
    assert (d.ci_low, d.ci_high) == pytest.approx((value - half, value + half), rel=1e-9)


def test_small_and_missing_groups_are_left_out() -> None:
    label, prediction, group = _rows(5)
    sums = _sums(label, prediction, group)
    sums["tiny"] = RegressionSums.from_arrays(predictions=prediction[:10], actual=label[:10])
    unlabelled = RegressionSums.from_arrays(predictions=prediction[:50], actual=np.full(50, np.nan))
    report = regression_fairness_report(
        attribute="g", groups={**sums, "late": unlabelled}, expected_groups=["gone"]
    )
    for name in ("tiny", "late", "gone"):
        assert report.group(name).status == "insufficient_data"
        assert report.group(name).rate("mae").value is None
    assert set(report.disparity("mae_difference").excluded) == {"tiny", "late", "gone"}
    alone = regression_fairness_report(attribute="g", groups={"a": sums["a"]})
    assert alone.disparity("mae_difference").status == "insufficient_data"


def _simulated(rng: np.random.Generator, bias: np.ndarray, windows: int, rows: int) -> ErrorSums:
    """Sums of ``windows`` simulated windows, groups on the last axis; errors t(5)-tailed."""
    e = rng.standard_t(5, size=(windows, bias.size, rows)) + bias[None, :, None]
    return ErrorSums.of_arrays(np.full(e.shape[:2], rows), e.sum(-1), np.abs(e).sum(-1), (e * e).sum(-1))


@pytest.mark.parametrize("rate", ["mean_error", "mae"])
def test_quiet_data_rarely_excludes_zero_and_a_real_gap_is_covered(rate: ErrorRate) -> None:
    """Four groups, 200 rows each, heavy-tailed errors. Quiet: L > 0 (an alert at any bound ≥ 0)
    in at most α + 3 se of 1,000 windows. One group biased by 0.5 (0.4 sd): the true range is
    covered, and the bias gap is seen."""
    rng = np.random.default_rng(20261207)
    use = np.ones(4, dtype=bool)
    quiet = _simulated(rng, np.zeros(4), 1_000, 200)
    low, _ = error_bounds(quiet, use, rate, confidence=0.95)
    assert np.mean(low > 0.0) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1_000)
    bias = np.array([0.0, 0.0, 0.0, 0.5])
    shifted = _simulated(rng, bias, 1_000, 200)
    truth = 0.5 if rate == "mean_error" else _true_mae_range(rng, bias)
    low, high = error_bounds(shifted, use, rate, confidence=0.95)
    assert np.mean((low <= truth) & (truth <= high)) >= 0.93
    if rate == "mean_error":  # power: a bias gap of 0.4 sd is seen past 0 in most windows
        assert np.mean(low > 0.0) > 0.5


def _true_mae_range(rng: np.random.Generator, bias: np.ndarray) -> float:
    """E|T + b| − E|T| for T ~ t(5), by a large sample (standard error ~0.001)."""
    t = rng.standard_t(5, size=2_000_000)
    return float(np.mean(np.abs(t + bias.max())) - np.mean(np.abs(t)))
