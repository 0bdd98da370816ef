"""Confidence-based performance estimation, checked where the truth is known.

The synthetic model is calibrated by construction (y ~ Bernoulli(score)); the window's
scores shift from Beta(2, 3) to other shapes, which CBPE must follow without labels.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from service.stats.aggregates import ScoreHistogram
from service.stats.estimated import auc_gradient, calibrate, estimate_performance
from service.stats.ranking import roc_auc_from_masses
from tests.stats.outcome_data import UNIFORM_EDGES, calibrated_binary

REALISED = {
    "accuracy": accuracy_score,
    "precision": precision_score,
    "recall": recall_score,
    "f1": f1_score,
}


def _realised(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp, fp, fn = int(np.sum(y & pred)), int(np.sum(~y & pred)), int(np.sum(y & ~pred))
    return {
        "accuracy": float(np.mean(y == pred)),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
    }


def _reference(seed: int, n: int = 20_000) -> ScoreHistogram:
    rows = calibrated_binary(np.random.default_rng(seed), n)
    return ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=rows.scores, actual_positive=rows.actual)


@pytest.mark.parametrize(("seed", "n"), [(1, 300), (2, 3000), (3, 20_000)])
def test_calibration_equals_sklearn_isotonic_over_bins(seed: int, n: int) -> None:
    hist = _reference(seed, n)
    pos, neg = np.asarray(hist.positive, float), np.asarray(hist.negative, float)
    used = pos + neg > 0
    iso = IsotonicRegression(increasing=True).fit(
        np.flatnonzero(used), pos[used] / (pos + neg)[used], sample_weight=(pos + neg)[used]
    )
    cal = calibrate(hist)
    assert np.asarray(cal.probability)[used] == pytest.approx(iso.predict(np.flatnonzero(used)), abs=1e-12)
    assert all(a <= b for a, b in zip(cal.probability, cal.probability[1:], strict=False))
    assert cal.n == int((pos + neg).sum())


def test_empty_reference_bins_take_a_neighbour_and_are_flagged() -> None:
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.3, 0.7, 5000)  # bins below 0.3 and above 0.7 get no reference rows
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=rng.random(5000) < scores)
    cal = calibrate(hist)
    assert cal.probability[0] == cal.probability[6]  # leading empty bins copy the first supported
    assert cal.probability[19] == cal.probability[13]  # trailing empty bins copy the last supported
    window_scores = rng.uniform(0.0, 1.0, 1000)
    window = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=window_scores)
    est = estimate_performance(calibration=cal, window=window)
    assert est.unsupported_share == pytest.approx(np.mean((window_scores < 0.3) | (window_scores >= 0.7)))


def test_estimate_on_the_reference_itself_is_exact_at_a_block_boundary() -> None:
    # PAV keeps each pooled block's positive total, so on the reference histogram the
    # expected TP/FN equal the realised ones when the threshold edge is a block boundary.
    rows = calibrated_binary(np.random.default_rng(5), 50_000)
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=rows.scores, actual_positive=rows.actual)
    cal = calibrate(hist)
    t = UNIFORM_EDGES.index(0.5)
    assert cal.block[t - 1] != cal.block[t]
    est = estimate_performance(calibration=cal, window=hist, threshold=0.5)
    for metric, realised in REALISED.items():
        assert est.get(metric).value == pytest.approx(realised(rows.actual, rows.predicted), abs=1e-9), metric


@pytest.mark.slow
@pytest.mark.parametrize(("a", "b"), [(2.0, 3.0), (3.0, 2.0), (1.2, 4.0)])
def test_estimate_tracks_realised_metric_under_covariate_shift(a: float, b: float) -> None:
    # 200 seeded windows of 2000 rows: the mean estimate must match the mean realised value
    # within 0.015 (the one 20k-row reference fixes a calibration error of SE ≈ 0.005 shared
    # by all runs). Interval coverage, with the reference redrawn per window, is measured in
    # benchmarks/coverage/performance.py (test_performance_coverage.py asserts it).
    rng = np.random.default_rng(6)
    cal = calibrate(_reference(7))
    metrics = (*REALISED, "roc_auc")
    errors: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(200):
        rows = calibrated_binary(rng, 2000, a=a, b=b)
        window = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=rows.scores)  # no labels at all
        est = estimate_performance(calibration=cal, window=window, threshold=0.5)
        truth = _realised(rows.actual, rows.predicted)
        truth["roc_auc"] = roc_auc_score(rows.actual, rows.scores)
        for m in metrics:
            got = est.get(m)
            assert got.value is not None
            assert got.ci_low is not None
            assert got.ci_high is not None
            assert got.ci_low <= got.value <= got.ci_high
            errors[m].append(got.value - truth[m])
    for m in metrics:
        assert abs(float(np.mean(errors[m]))) < 0.015, (m, np.mean(errors[m]))


def test_auc_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(13)
    mass = rng.integers(5, 50, 12).astype(float)
    expected = mass * np.sort(rng.random(12))
    grad = auc_gradient(expected, mass - expected)
    step = 1e-6
    for k in range(12):
        up = expected.copy()
        up[k] += step
        numeric = (roc_auc_from_masses(up, mass - up) - roc_auc_from_masses(expected, mass - expected)) / step
        assert grad[k] == pytest.approx(numeric, abs=1e-6)


def test_a_reference_block_without_positives_still_has_calibration_error() -> None:
    # 3 % positives: the lowest PAV block often holds none (rate 0). Its rate is still uncertain,
    # so the estimate's interval must not collapse to the label noise of the window alone.
    edges = (0.0, 0.1, 0.5, 1.0)
    reference = ScoreHistogram(
        edges, (0, 5, 40), (2000, 300, 40), (0, 0, 0), (0.0, 1.0, 30.0), (100.0, 60.0, 25.0), (0.0, 0.0, 0.0)
    )
    cal = calibrate(reference)
    assert cal.probability[0] == 0.0
    window = ScoreHistogram(
        edges,
        (0, 0, 0),
        (0, 0, 0),
        (50_000, 3000, 500),
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (1000.0, 600.0, 400.0),
    )
    recall = estimate_performance(calibration=cal, window=window, threshold=0.1).get("recall")
    assert recall.value == 1.0  # no positive expected below the threshold...
    assert recall.ci_low is not None
    assert recall.ci_low < 0.9  # ...but 2,000 rows without a positive do not prove a rate of 0


def test_threshold_must_be_an_edge_and_small_inputs_are_insufficient() -> None:
    cal = calibrate(_reference(8))
    rows = calibrated_binary(np.random.default_rng(9), 20)
    small = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=rows.scores)
    with pytest.raises(ValueError, match="not one of"):
        estimate_performance(calibration=cal, window=small, threshold=0.52)
    est = estimate_performance(calibration=cal, window=small)
    assert all(m.status == "insufficient_data" for m in est.metrics)
    assert all(m.value is None for m in est.metrics)
    tiny_ref = calibrate(_reference(10, 50))
    big_rows = calibrated_binary(np.random.default_rng(11), 500)
    big = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=big_rows.scores)
    tiny_est = estimate_performance(calibration=tiny_ref, window=big)
    assert tiny_est.get("accuracy").status == "insufficient_data"
    empty = ScoreHistogram.empty(UNIFORM_EDGES)
    assert all(m.value is None for m in estimate_performance(calibration=cal, window=empty).metrics)
    no_reference = calibrate(empty)
    assert no_reference.n == 0
    # no labelled reference row: nothing to calibrate on, whatever min_reference says
    unlabelled_only = estimate_performance(calibration=no_reference, window=big, min_reference=0)
    assert all(m.value is None for m in unlabelled_only.metrics)


def test_threshold_at_other_edges_matches_realised_on_reference() -> None:
    rows = calibrated_binary(np.random.default_rng(12), 30_000)
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=rows.scores, actual_positive=rows.actual)
    cal = calibrate(hist)
    est = estimate_performance(calibration=cal, window=hist, threshold=0.3)
    predicted = rows.scores >= 0.3
    realised = accuracy_score(rows.actual, predicted)
    acc = est.get("accuracy")
    assert acc.ci_low is not None
    assert acc.ci_high is not None
    assert acc.ci_low <= realised <= acc.ci_high
