"""Expected calibration error: the debiased estimate against an independent plug-in and
scikit-learn's calibration curve, its behaviour on calibrated models, and its edge cases.
Interval coverage (calibrated and miscalibrated, 150-20,000 rows) is asserted in
test_performance_coverage.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from service.stats.aggregates import ScoreHistogram
from service.stats.calibration import ECE_GROUPS, group_bounds
from service.stats.performance import calibration_error
from tests.stats.outcome_data import UNIFORM_EDGES


def _plug_in(scores: np.ndarray, y: np.ndarray, edges: tuple[float, ...]) -> float:
    """Σ_g (n_g/N)|mean(y − s) in g| over the same 10 groups, from the raw rows."""
    bins = np.clip(np.searchsorted(np.asarray(edges), scores, side="right") - 1, 0, len(edges) - 2)
    group = np.searchsorted(np.asarray(group_bounds(len(edges) - 1)), bins, side="right") - 1
    gaps = np.bincount(group, weights=y - scores)
    return float(np.abs(gaps).sum() / y.size)


def _overconfident(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = rng.beta(2, 3, n)
    y = rng.random(n) < p
    return 1 / (1 + np.exp(-2 * np.log(p / (1 - p)))), y  # logit ×2


def test_group_bounds_cut_bins_into_ten_runs() -> None:
    assert group_bounds(20) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert group_bounds(51)[0] == 0
    assert group_bounds(51)[-1] == 51
    assert len(group_bounds(51)) == ECE_GROUPS + 1
    assert group_bounds(3) == [0, 1, 2, 3]  # fewer bins than groups: one group per bin


def test_large_sample_ece_equals_sklearn_calibration_curve() -> None:
    # At n = 400k every group's gap is ≫ its noise, so the debiased value is the plug-in; with
    # k/20 edges the 10 groups are scikit-learn's 10 uniform bins.
    rng = np.random.default_rng(1)
    scores, y = _overconfident(rng, 400_000)
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y)
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    sizes = np.bincount(np.minimum((scores * 10).astype(int), 9), minlength=10)
    sklearn_ece = float(np.sum(sizes[sizes > 0] * np.abs(prob_true - prob_pred)) / sizes.sum())
    assert _plug_in(scores, y, UNIFORM_EDGES) == pytest.approx(sklearn_ece, abs=1e-12)
    got = calibration_error(hist)
    assert got.value == pytest.approx(sklearn_ece, abs=2e-4)
    assert got.n == y.size
    assert got.method == "debiased_folded_normal"
    assert got.value is not None
    assert got.ci_low is not None
    assert got.ci_high is not None
    assert got.ci_low <= got.value <= got.ci_high
    assert got.ci_high - got.ci_low < 0.01


def test_a_calibrated_model_scores_near_zero_where_the_plug_in_does_not() -> None:
    # y ~ Bernoulli(score): the population ECE is 0. The plug-in averages ≈ 0.09 at 150 rows
    # (each of 10 groups adds its noise |N(0, σ²/n_g)|); the debiased estimate removes most of it.
    rng = np.random.default_rng(2)
    edges = tuple(float(e) for e in np.quantile(rng.beta(2, 3, 5000), np.linspace(0, 1, 51)))
    edges = (0.0, *edges[1:-1], 1.0)
    plug, debiased, lower = [], [], []
    for _ in range(300):
        scores = rng.beta(2, 3, 150)
        y = rng.random(150) < scores
        value = calibration_error(ScoreHistogram.from_arrays(edges, scores=scores, actual_positive=y))
        assert value.value is not None
        assert value.ci_low is not None
        plug.append(_plug_in(scores, y, edges))
        debiased.append(value.value)
        lower.append(value.ci_low)
    assert np.mean(plug) > 0.07
    assert np.mean(debiased) < 0.4 * np.mean(plug)
    assert np.mean(np.asarray(lower) > 0) < 0.02  # a calibrated model is almost never flagged


@pytest.mark.slow
def test_miscalibration_is_detected_and_estimated() -> None:
    rng = np.random.default_rng(3)
    scores, y = _overconfident(rng, 5000)
    edges = UNIFORM_EDGES
    truth_scores, truth_y = _overconfident(rng, 2_000_000)
    truth = _plug_in(truth_scores, truth_y, edges)  # population ECE, Monte Carlo SE ~1e-4
    value = calibration_error(ScoreHistogram.from_arrays(edges, scores=scores, actual_positive=y))
    assert value.value is not None
    assert value.ci_low is not None
    assert value.ci_high is not None
    assert value.ci_low > 0.05  # ECE ≈ 0.10: clearly not calibrated at 5,000 rows
    assert value.ci_low <= truth <= value.ci_high
    assert value.value == pytest.approx(truth, abs=0.02)


def test_only_labelled_rows_count_and_small_windows_are_insufficient() -> None:
    rng = np.random.default_rng(4)
    scores = rng.beta(2, 3, 1000)
    y = rng.random(1000) < scores
    labelled = np.arange(1000) < 20
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y, labelled=labelled)
    small = calibration_error(hist)
    assert small.status == "insufficient_data"
    assert small.value is None
    assert small.n == 20
    assert calibration_error(hist, min_n=10).n == 20
    assert calibration_error(ScoreHistogram.empty(UNIFORM_EDGES), min_n=0).status == "insufficient_data"


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.999])
def test_interval_is_finite_ordered_and_widens_with_confidence(confidence: float) -> None:
    rng = np.random.default_rng(5)
    scores, y = _overconfident(rng, 800)
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y)
    value = calibration_error(hist, confidence=confidence)
    wider = calibration_error(hist, confidence=(1 + confidence) / 2)
    for v in (value, wider):
        assert v.value is not None
        assert v.ci_low is not None
        assert v.ci_high is not None
        assert all(math.isfinite(x) for x in (v.value, v.ci_low, v.ci_high))
        assert 0.0 <= v.ci_low <= v.value <= v.ci_high <= 1.0
    assert wider.ci_low <= value.ci_low  # type: ignore[operator]
    assert wider.ci_high >= value.ci_high  # type: ignore[operator]
