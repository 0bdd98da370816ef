"""Calibration-in-the-large per group and its disparity: values against numpy / sklearn on the
rows, the interval against an independent implementation, hygiene for small and missing
groups. Coverage is in test_fairness_coverage.py (benchmarks/coverage/fairness_calibration.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss
from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

from service.stats.aggregates import BinaryCounts, FloatArray, ScoreHistogram
from service.stats.group_calibration import (
    MIN_CORRELATION_COUNT,
    CalibrationSums,
    calibration_report,
)
from service.stats.outcomes import Outcomes

EDGES = tuple(float(e) for e in np.linspace(0.0, 1.0, 21))
EXACT = 1e-9


def _outcome(scores: FloatArray, y: np.ndarray, labelled: np.ndarray | None = None) -> Outcomes:
    binary = BinaryCounts.from_arrays(
        predicted_positive=scores >= 0.5, actual_positive=y, labelled=labelled, scores=scores
    )
    histogram = ScoreHistogram.from_arrays(EDGES, scores=scores, actual_positive=y, labelled=labelled)
    return Outcomes(binary=binary, scores=histogram)


def _rows(rng: np.random.Generator, n: int, factor: float, b: float = 4.0) -> tuple[FloatArray, np.ndarray]:
    """Scores Beta(1.5, b), y ~ Bernoulli(min(1, factor · s)): CITL = E[s](1 − factor) if no clip."""
    s = rng.beta(1.5, b, size=n)
    return s, rng.random(n) < np.minimum(1.0, factor * s)


def _independent_interval(s: FloatArray, y: np.ndarray, z: float) -> tuple[float, float]:
    """The module's formula computed from the rows with numpy and statsmodels."""
    n = s.size
    sd_s = float(np.std(s, ddof=1))
    half = z * sd_s / math.sqrt(n)
    p = float(y.mean())
    low_y, high_y = proportion_confint(int(y.sum()), n, alpha=2 * (1 - _phi(z)), method="wilson")
    enough = min(y.sum(), n - y.sum()) >= MIN_CORRELATION_COUNT
    r = float(np.corrcoef(s, y.astype(float))[0, 1]) if enough else 0.0
    d = float(s.mean()) - p
    a, b = half, high_y - p
    low = d - math.sqrt(max(a * a + b * b - 2 * r * a * b, 0.0))
    b = p - low_y
    return low, d + math.sqrt(max(a * a + b * b - 2 * r * a * b, 0.0))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_values_equal_numpy_and_sklearn_on_the_rows() -> None:
    rng = np.random.default_rng(1)
    data = {"a": _rows(rng, 800, 1.0), "b": _rows(rng, 500, 0.7), "c": _rows(rng, 300, 1.2)}
    report = calibration_report(attribute="g", groups={g: _outcome(s, y) for g, (s, y) in data.items()})
    values: dict[str, float] = {}
    for g, (s, y) in data.items():
        got = report.group(g).calibration_in_the_large
        assert got.value == pytest.approx(float(s.mean() - y.mean()), abs=EXACT)
        assert got.n == report.group(g).n == s.size
        assert got.value is not None
        values[g] = got.value
        sums = CalibrationSums.of(_outcome(s, y))
        brier = (
            float(sums.score_sq_sum) - 2 * float(sums.positive_score_sum) + float(sums.positives)
        ) / s.size
        assert brier == pytest.approx(brier_score_loss(y, s), abs=EXACT)
        low, high = _independent_interval(s, y, z=1.959963984540054)
        assert got.ci_low == pytest.approx(low, abs=1e-9)
        assert got.ci_high == pytest.approx(high, abs=1e-9)
    d = report.disparity
    assert d.metric == "calibration_difference"
    assert d.value == pytest.approx(max(values.values()) - min(values.values()), abs=EXACT)
    assert d.high_group == max(values, key=lambda g: values[g])
    assert d.low_group == min(values, key=lambda g: values[g])
    assert d.n == 1600 and d.groups_compared == 3 and d.excluded == ()
    assert d.ci_low is not None and d.ci_high is not None and d.value is not None
    assert d.ci_low <= d.value <= d.ci_high
    assert [g.group for g in report.groups] == ["a", "b", "c"]


def test_unlabelled_and_unscored_rows_do_not_count() -> None:
    rng = np.random.default_rng(2)
    s, y = _rows(rng, 400, 1.0)
    labelled = rng.random(400) < 0.6
    s = np.where(rng.random(400) < 0.1, np.nan, s)
    report = calibration_report(attribute="g", groups={"a": _outcome(s, y, labelled), "b": _outcome(s, y)})
    used = labelled & ~np.isnan(s)
    got = report.group("a")
    assert got.n == int(used.sum())
    assert got.calibration_in_the_large.value == pytest.approx(
        float(s[used].mean() - y[used].mean()), abs=EXACT
    )


def test_rare_events_without_a_positive_keep_an_honest_interval() -> None:
    # 60 rows, mean score 0.03, no positive: the normal interval from Var(s − y) = Var(s)
    # would be ±0.01 around 0.03 and exclude a true CITL of 0; Wilson's ȳ ≤ 0.06 keeps it
    s = np.full(60, 0.03)
    s[:10] = 0.05
    report = calibration_report(attribute="g", groups={"a": _outcome(s, np.zeros(60, dtype=bool))})
    got = report.group("a").calibration_in_the_large
    assert got.value == pytest.approx(float(s.mean()), abs=EXACT)
    assert got.ci_low is not None and got.ci_low < -0.02
    assert got.ci_high == pytest.approx(
        float(s.mean()) + 1.96 * float(np.std(s, ddof=1)) / math.sqrt(60), rel=1e-3
    )


def test_a_correlation_from_a_few_positives_is_not_trusted() -> None:
    rng = np.random.default_rng(3)
    s = rng.beta(1.0, 20.0, size=200)
    y = np.zeros(200, dtype=bool)
    y[np.argsort(s)[-(MIN_CORRELATION_COUNT - 1) :]] = True  # 4 positives, the top scores
    got = calibration_report(attribute="g", groups={"a": _outcome(s, y)}).group("a").calibration_in_the_large
    low, high = _independent_interval(s, y, z=1.959963984540054)
    assert got.ci_low == pytest.approx(low, abs=1e-9)
    assert got.ci_high == pytest.approx(high, abs=1e-9)
    with_r = float(np.corrcoef(s, y.astype(float))[0, 1])
    assert with_r > 0.3  # what the rule refuses to use: it would shrink the interval


def test_small_missing_and_empty_groups_are_insufficient_and_excluded() -> None:
    rng = np.random.default_rng(4)
    groups = {"a": _outcome(*_rows(rng, 300, 1.0)), "b": _outcome(*_rows(rng, 200, 0.8))}
    groups["tiny"] = _outcome(*_rows(rng, 29, 1.0))
    groups["no_scores"] = Outcomes(binary=BinaryCounts(n=500, labelled=500, tp=100, tn=400))
    report = calibration_report(attribute="g", groups=groups, expected_groups=["a", "gone"])
    assert [g.group for g in report.groups] == ["a", "b", "gone", "no_scores", "tiny"]
    for name, n in [("tiny", 29), ("gone", 0), ("no_scores", 0)]:
        g = report.group(name)
        assert g.n == n and g.calibration_in_the_large.status == "insufficient_data"
        assert g.calibration_in_the_large.value is None and g.calibration_in_the_large.ci_low is None
    assert report.disparity.excluded == ("gone", "no_scores", "tiny")
    assert report.disparity.groups_compared == 2
    lowered = calibration_report(attribute="g", groups=groups, min_group_n=20)
    assert lowered.group("tiny").calibration_in_the_large.status == "ok"
    assert calibration_report(attribute="g", groups=groups, min_denominator=400).disparity.status == (
        "insufficient_data"
    )


def test_one_sufficient_group_has_no_disparity() -> None:
    rng = np.random.default_rng(5)
    report = calibration_report(attribute="g", groups={"a": _outcome(*_rows(rng, 300, 1.0))})
    d = report.disparity
    assert (d.status, d.value, d.ci_low, d.ci_high, d.high_group) == (
        "insufficient_data",
        None,
        None,
        None,
        None,
    )
    assert d.groups_compared == 1 and d.n == 300


def test_a_miscalibrated_group_is_found() -> None:
    rng = np.random.default_rng(6)
    groups = {g: _outcome(*_rows(rng, 3000, 1.0)) for g in "abcd"}
    groups["e"] = _outcome(*_rows(rng, 3000, 0.6))  # over-predicts by 0.4 × E[s] ≈ 0.11
    d = calibration_report(attribute="g", groups=groups).disparity
    assert d.high_group == "e"
    assert d.ci_low is not None and d.ci_low > 0.05


def test_a_higher_confidence_widens_every_interval() -> None:
    rng = np.random.default_rng(7)
    groups = {g: _outcome(*_rows(rng, 400, f)) for g, f in zip("abc", (0.8, 1.0, 1.2), strict=True)}
    at_95, at_999 = (calibration_report(attribute="g", groups=groups, confidence=c) for c in (0.95, 0.999))
    for g in "abc":
        narrow, wide = at_95.group(g).calibration_in_the_large, at_999.group(g).calibration_in_the_large
        assert wide.ci_low is not None and narrow.ci_low is not None and wide.ci_low < narrow.ci_low
        assert wide.ci_high is not None and narrow.ci_high is not None and wide.ci_high > narrow.ci_high
    d95, d999 = at_95.disparity, at_999.disparity
    assert d95.ci_high is not None and d999.ci_high is not None and d999.ci_high > d95.ci_high


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    min_n=st.integers(0, 3),
    min_den=st.integers(0, 3),
    rate=st.floats(0.0, 1.0),
)
def test_tiny_groups_never_crash_or_serve_nan(
    seed: int, sizes: list[int], min_n: int, min_den: int, rate: float
) -> None:
    rng = np.random.default_rng(seed)
    groups = {}
    for i, n in enumerate(sizes):
        s = np.round(rng.random(n), 1) * rate  # ties and constant scores included
        groups[f"g{i}"] = _outcome(s, rng.random(n) < rate)
    report = calibration_report(
        attribute="g", groups=groups, expected_groups=["absent"], min_group_n=min_n, min_denominator=min_den
    )
    for g in report.groups:
        v = g.calibration_in_the_large
        assert (v.value is None) == (v.status == "insufficient_data")
        for field in (v.value, v.ci_low, v.ci_high):
            assert field is None or math.isfinite(field), g
    d = report.disparity
    for field in (d.value, d.ci_low, d.ci_high):
        assert field is None or math.isfinite(field), d
