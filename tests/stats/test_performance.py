"""Performance from aggregates against scikit-learn on seeded raw rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from service.stats.aggregates import BinaryCounts, MulticlassCounts, RegressionSums, ScoreHistogram
from service.stats.intervals import MetricValue
from service.stats.performance import (
    auc_binning_bound,
    average_precision_from_masses,
    binary_performance,
    multiclass_performance,
    regression_performance,
    roc_auc_from_masses,
)
from tests.stats.outcome_data import (
    UNIFORM_EDGES,
    calibrated_binary,
    multiclass_rows,
    regression_rows,
    scores_on_edges,
)

EXACT = 1e-9


def _binary_aggregates(
    seed: int, n: int, labelled_share: float = 0.8
) -> tuple[BinaryCounts, ScoreHistogram, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = calibrated_binary(rng, n)
    labelled = rng.random(n) < labelled_share
    counts = BinaryCounts.from_arrays(
        predicted_positive=rows.predicted, actual_positive=rows.actual, labelled=labelled, scores=rows.scores
    )
    hist = ScoreHistogram.from_arrays(
        UNIFORM_EDGES, scores=rows.scores, actual_positive=rows.actual, labelled=labelled
    )
    return counts, hist, rows.actual[labelled], rows.predicted[labelled], rows.scores[labelled]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binary_confusion_metrics_equal_sklearn(seed: int) -> None:
    counts, hist, y, pred, scores = _binary_aggregates(seed, 3000)
    report = binary_performance(counts=counts, histogram=hist)
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    expected = {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
        "specificity": tn / (tn + fp),
        "brier": brier_score_loss(y, scores),
    }
    for metric, value in expected.items():
        got = report.get(metric)
        assert got.status == "ok"
        assert got.value == pytest.approx(value, abs=EXACT), metric
        assert got.ci_low is not None
        assert got.ci_high is not None
        assert got.value is not None
        assert got.ci_low <= got.value <= got.ci_high
    assert report.get("recall").n == tp + fn
    assert report.get("precision").n == tp + fp
    assert report.labelled == y.size
    assert report.n == 3000


@pytest.mark.parametrize("seed", [4, 5])
def test_auc_equals_sklearn_when_scores_sit_on_edges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores, y = scores_on_edges(rng, 2000, UNIFORM_EDGES)
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y)
    report = binary_performance(
        counts=BinaryCounts.from_arrays(predicted_positive=scores >= 0.5, actual_positive=y, scores=scores),
        histogram=hist,
    )
    assert report.get("roc_auc").value == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    # PR AUC is the step-wise average precision, not the trapezoid under the PR curve
    assert report.get("pr_auc").value == pytest.approx(average_precision_score(y, scores), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bins=st.integers(2, 40), n=st.integers(30, 600))
def test_binned_auc_within_its_bound_of_exact(seed: int, bins: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rows = calibrated_binary(rng, n)
    if rows.actual.all() or not rows.actual.any():
        return
    edges = tuple(float(e) for e in np.linspace(0, 1, bins + 1))
    hist = ScoreHistogram.from_arrays(edges, scores=rows.scores, actual_positive=rows.actual)
    pos, neg = np.asarray(hist.positive, float), np.asarray(hist.negative, float)
    exact = roc_auc_score(rows.actual, rows.scores)
    assert abs(roc_auc_from_masses(pos, neg) - exact) <= auc_binning_bound(pos, neg) + 1e-12
    # AP of the histogram is exactly sklearn's AP of the bin-quantised scores
    quantised = ScoreHistogram.bin_index(edges, rows.scores).astype(float)
    assert average_precision_from_masses(pos, neg) == pytest.approx(
        average_precision_score(rows.actual, quantised), abs=1e-12
    )
    assert roc_auc_from_masses(pos, neg) == pytest.approx(roc_auc_score(rows.actual, quantised), abs=1e-12)


def test_expected_calibration_error_equals_calibration_curve() -> None:
    counts, hist, y, _, scores = _binary_aggregates(6, 4000)
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=20, strategy="uniform")
    # calibration_curve drops empty bins; weight each kept bin by its row count
    bin_ids = np.searchsorted(np.linspace(0, 1, 21)[1:-1], scores)
    sizes = np.bincount(bin_ids, minlength=20)
    expected = float(np.sum(sizes[sizes > 0] * np.abs(prob_true - prob_pred)) / sizes.sum())
    got = binary_performance(counts=counts, histogram=hist).get("ece")
    assert got.value == pytest.approx(expected, abs=EXACT)
    assert got.n == y.size
    assert got.method == "none"


def test_binary_insufficient_data_is_none_not_zero() -> None:
    counts, hist, *_ = _binary_aggregates(7, 20)
    report = binary_performance(counts=counts, histogram=hist)
    for value in report.metrics:
        assert value.status == "insufficient_data", value.metric
        assert value.value is None, value.metric
    no_labels = BinaryCounts.from_arrays(predicted_positive=np.ones(500, dtype=bool))
    assert binary_performance(counts=no_labels).get("accuracy").status == "insufficient_data"
    # 500 labelled rows but only 3 actual positives: recall has no meaningful denominator
    y = np.zeros(500, dtype=bool)
    y[:3] = True
    few = BinaryCounts.from_arrays(predicted_positive=y, actual_positive=y)
    report = binary_performance(counts=few)
    assert report.get("recall").status == "insufficient_data"
    assert report.get("recall").n == 3
    assert report.get("accuracy").value == 1.0


def test_f1_interval_coverage() -> None:
    # F1's interval is Wilson on the Jaccard index mapped through 2J/(1+J); true F1 of the
    # population from 2M rows (Monte Carlo error ~3e-4, far inside the interval widths).
    rng = np.random.default_rng(21)
    big = calibrated_binary(rng, 2_000_000)
    true_f1 = f1_score(big.actual, big.predicted)
    hits = 0
    for _ in range(300):
        r = calibrated_binary(rng, 400)
        c = BinaryCounts.from_arrays(predicted_positive=r.predicted, actual_positive=r.actual)
        f1 = binary_performance(counts=c).get("f1")
        assert f1.ci_low is not None
        assert f1.ci_high is not None
        hits += f1.ci_low <= true_f1 <= f1.ci_high
    assert 0.91 <= hits / 300 <= 0.985


@pytest.mark.parametrize("seed", [8, 9])
def test_multiclass_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    predicted, actual = multiclass_rows(rng, 2500, 4)
    # class "d" (index 3) also appears; class "e" is declared but never seen
    unlabelled = rng.random(actual.size) < 0.1
    counts = MulticlassCounts.from_arrays(
        ("a", "b", "c", "d", "e"), predicted=predicted, actual=np.where(unlabelled, -1, actual)
    )
    y, p = actual[~unlabelled], predicted[~unlabelled]
    report = multiclass_performance(counts=counts)
    assert report.get("accuracy").value == pytest.approx(accuracy_score(y, p), abs=EXACT)
    assert report.get("f1_macro").value == pytest.approx(f1_score(y, p, average="macro"), abs=EXACT)
    assert report.get("f1_weighted").value == pytest.approx(f1_score(y, p, average="weighted"), abs=EXACT)
    assert report.labelled == y.size
    assert report.n == actual.size


def test_multiclass_f1_delta_interval_coverage() -> None:
    rng = np.random.default_rng(22)
    big_p, big_a = multiclass_rows(rng, 1_000_000, 3)
    truth = {
        "f1_macro": f1_score(big_a, big_p, average="macro"),
        "f1_weighted": f1_score(big_a, big_p, average="weighted"),
    }
    hits = dict.fromkeys(truth, 0)
    runs = 200
    for _ in range(runs):
        p, a = multiclass_rows(rng, 600, 3)
        counts = MulticlassCounts.from_arrays(("x", "y", "z"), predicted=p, actual=a)
        report = multiclass_performance(counts=counts)
        for metric, true in truth.items():
            got = report.get(metric)
            assert got.ci_low is not None
            assert got.ci_high is not None
            hits[metric] += got.ci_low <= true <= got.ci_high
    # 200 runs: SE of coverage ≈ 0.015; band ±~3.5 SE around 95 %
    assert all(0.89 <= h / runs <= 0.995 for h in hits.values()), hits


@pytest.mark.parametrize("seed", [10, 11])
def test_regression_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred, y = regression_rows(rng, 1500)
    y_window = np.where(rng.random(y.size) < 0.2, np.nan, y)
    sums = RegressionSums.from_arrays(predictions=pred, actual=y_window)
    known = ~np.isnan(y_window)
    report = regression_performance(sums=sums)
    expected = {
        "mae": mean_absolute_error(y[known], pred[known]),
        "rmse": root_mean_squared_error(y[known], pred[known]),
        "mape": mean_absolute_percentage_error(y[known], pred[known]),
        "r2": r2_score(y[known], pred[known]),
        "mean_error": float(np.mean(pred[known] - y[known])),
    }
    for metric, value in expected.items():
        assert report.get(metric).value == pytest.approx(value, abs=EXACT, rel=EXACT), metric
    assert report.get("mae").n == known.sum()


def test_regression_intervals_cover_analytic_truth() -> None:
    # e = 0.3 + t₅: E[e] = 0.3, E[e²] = 0.09 + 5/3, E|e| by quadrature (independent of the code)
    t5 = stats.t(5)
    truth = {
        "mean_error": 0.3,
        "rmse": math.sqrt(0.09 + 5 / 3),
        "mae": integrate.quad(lambda v: abs(0.3 + v) * t5.pdf(v), -np.inf, np.inf)[0],
    }
    rng = np.random.default_rng(23)
    hits = dict.fromkeys(truth, 0)
    runs = 300
    for _ in range(runs):
        pred, y = regression_rows(rng, 500)
        report = regression_performance(sums=RegressionSums.from_arrays(predictions=pred, actual=y))
        for metric, true in truth.items():
            got = report.get(metric)
            assert got.ci_low is not None
            assert got.ci_high is not None
            hits[metric] += got.ci_low <= true <= got.ci_high
    # t₅ errors have a heavy 8th moment, so the RMSE interval is allowed to undercover a bit
    assert all(0.88 <= h / runs <= 0.99 for h in hits.values()), hits


def test_regression_insufficient_and_constant_target() -> None:
    small = RegressionSums.from_arrays(predictions=np.ones(10), actual=np.ones(10) * 2)
    assert all(
        m.status == "insufficient_data" and m.value is None
        for m in regression_performance(sums=small).metrics
    )
    const = RegressionSums.from_arrays(predictions=np.linspace(1, 2, 50), actual=np.full(50, 3.0))
    report = regression_performance(sums=const)
    assert report.get("r2").status == "insufficient_data"
    expected_mae = mean_absolute_error(np.full(50, 3.0), np.linspace(1, 2, 50))
    assert report.get("mae").value == pytest.approx(expected_mae)


def _finite_or_none(values: tuple[MetricValue, ...]) -> None:
    for v in values:
        for field in (v.value, v.ci_low, v.ci_high):
            assert field is None or math.isfinite(field), v
        assert (v.value is None) == (v.status == "insufficient_data"), v


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    min_n=st.integers(0, 3),
    min_den=st.integers(0, 2),
    share=st.floats(0, 1),
)
def test_tiny_and_degenerate_inputs_never_crash_or_serve_nan(
    seed: int, n: int, min_n: int, min_den: int, share: float
) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    y, labelled = rng.random(n) < share, rng.random(n) < share
    counts = BinaryCounts.from_arrays(
        predicted_positive=scores > 0.5, actual_positive=y, labelled=labelled, scores=scores
    )
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y, labelled=labelled)
    _finite_or_none(
        binary_performance(counts=counts, histogram=hist, min_n=min_n, min_denominator=min_den).metrics
    )
    predicted, actual = rng.integers(0, 3, n), np.where(labelled, rng.integers(0, 3, n), -1)
    mc = MulticlassCounts.from_arrays(("a", "b", "c"), predicted=predicted, actual=actual)
    _finite_or_none(multiclass_performance(counts=mc, min_n=min_n).metrics)
    sums = RegressionSums.from_arrays(predictions=scores, actual=np.where(labelled, y * 1.0, np.nan))
    _finite_or_none(regression_performance(sums=sums, min_n=min_n).metrics)


def test_mape_skips_zero_like_truths_instead_of_overflowing() -> None:
    predictions = np.array([2.0, 5.0, 3.0, 4.0])
    actual = np.array([1.0, 1e-310, 0.0, 2.0])
    sums = RegressionSums.from_arrays(predictions=predictions, actual=actual)
    assert sums.pct_rows == 2
    assert math.isfinite(sums.sum_abs_pct_error)
    assert sums.sum_abs_pct_error == pytest.approx(abs(2.0 - 1.0) / 1.0 + abs(4.0 - 2.0) / 2.0)
