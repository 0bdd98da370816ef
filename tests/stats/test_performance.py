"""Performance from aggregates against scikit-learn on seeded raw rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
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
from service.stats.layout import Batch, fit_layout
from service.stats.outcomes import OVERALL, Outcomes, build_outcomes, sum_outcomes
from service.stats.performance import binary_performance, multiclass_performance, regression_performance
from service.stats.ranking import auc_binning_bound, average_precision_from_masses, roc_auc_from_masses
from tests.stats.outcome_data import (
    UNIFORM_EDGES,
    calibrated_binary,
    multiclass_rows,
    regression_rows,
    scores_on_edges,
)

EXACT = 1e-9
BINARY_ORDER = ("accuracy", "precision", "recall", "specificity", "f1", "brier", "log_loss")
HISTOGRAM_ORDER = ("roc_auc", "pr_auc", "ece")


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
        "log_loss": log_loss(y, scores),
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
    assert tuple(m.metric for m in report.metrics) == BINARY_ORDER + HISTOGRAM_ORDER
    assert tuple(m.metric for m in binary_performance(counts=counts).metrics) == BINARY_ORDER


def test_log_loss_clips_like_sklearn_and_has_an_interval() -> None:
    # Scores of exactly 0 and 1 on the wrong side: scikit-learn clips to [ε, 1 − ε], −ln ε ≈ 36.04.
    rng = np.random.default_rng(31)
    scores = np.r_[rng.beta(2, 3, 500), 0.0, 1.0, 0.0, 1.0]
    y = np.r_[rng.random(500) < scores[:500], True, False, False, True]
    counts = BinaryCounts.from_arrays(predicted_positive=scores >= 0.5, actual_positive=y, scores=scores)
    got = binary_performance(counts=counts).get("log_loss")
    assert got.value == pytest.approx(log_loss(y, scores), rel=1e-12)
    assert got.n == y.size
    assert got.method == "skew_t"
    assert got.value is not None
    assert got.ci_low is not None
    assert got.ci_high is not None
    assert 0.0 <= got.ci_low < got.value < got.ci_high
    # the same sums from the profile builder's kernel (one group)
    batch = Batch(
        rows=y.size,
        predictions=np.where(scores >= 0.5, "yes", "no").astype(object),
        scores=scores,
        labels=np.where(y, "yes", "no").astype(object),
    )
    layout = fit_layout(task="binary_classification", reference=batch, positive_label="yes")
    built = build_outcomes(layout, batch, predicted=batch.predictions)[OVERALL].binary
    assert built is not None
    assert built.log_loss_rows == y.size
    assert built.log_loss_sum == pytest.approx(counts.log_loss_sum, rel=1e-12)
    assert built.log_loss_cube_sum == pytest.approx(counts.log_loss_cube_sum, rel=1e-12)


def test_log_loss_is_withheld_when_a_stored_profile_lacks_its_sums() -> None:
    rng = np.random.default_rng(32)
    rows = calibrated_binary(rng, 400)
    counts = BinaryCounts.from_arrays(
        predicted_positive=rows.predicted, actual_positive=rows.actual, scores=rows.scores
    )
    stored = {k: v for k, v in counts.to_dict().items() if not k.startswith("log_loss")}  # format before
    old = BinaryCounts.from_dict(stored)
    assert old.log_loss_rows == 0
    merged = old.merge(counts)
    report = binary_performance(counts=merged)
    assert report.get("log_loss").status == "insufficient_data"
    assert report.get("log_loss").value is None
    assert report.get("brier").status == "ok"  # the rest of the window is unaffected
    assert binary_performance(counts=counts.merge(counts)).get("log_loss").status == "ok"
    # three positives: the loss of the positive class is barely sampled
    y = np.zeros(400, dtype=bool)
    y[:3] = True
    few = BinaryCounts.from_arrays(predicted_positive=y, actual_positive=y, scores=np.where(y, 0.9, 0.1))
    assert binary_performance(counts=few).get("log_loss").status == "insufficient_data"


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


@pytest.mark.slow
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
        if v.value is not None and v.ci_low is not None and v.ci_high is not None:
            assert v.ci_low <= v.value + 1e-12, v
            assert v.value <= v.ci_high + 1e-12, v


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    min_n=st.integers(0, 3),
    min_den=st.integers(0, 2),
    share=st.floats(0, 1),
    conf=st.sampled_from([0.8, 0.95, 0.999]),
)
def test_tiny_and_degenerate_inputs_never_crash_or_serve_nan(
    seed: int, n: int, min_n: int, min_den: int, share: float, conf: float
) -> None:
    rng = np.random.default_rng(seed)
    scores = np.where(rng.random(n) < 0.1, np.round(rng.random(n)), rng.random(n))  # some exactly 0 or 1
    y, labelled = rng.random(n) < share, rng.random(n) < share
    counts = BinaryCounts.from_arrays(
        predicted_positive=scores > 0.5, actual_positive=y, labelled=labelled, scores=scores
    )
    hist = ScoreHistogram.from_arrays(UNIFORM_EDGES, scores=scores, actual_positive=y, labelled=labelled)
    report = binary_performance(
        counts=counts, histogram=hist, min_n=min_n, min_denominator=min_den, confidence=conf
    )
    _finite_or_none(report.metrics)
    predicted, actual = rng.integers(0, 3, n), np.where(labelled, rng.integers(0, 3, n), -1)
    mc = MulticlassCounts.from_arrays(("a", "b", "c"), predicted=predicted, actual=actual)
    _finite_or_none(multiclass_performance(counts=mc, min_n=min_n, confidence=conf).metrics)
    sums = RegressionSums.from_arrays(predictions=scores, actual=np.where(labelled, y * 1.0, np.nan))
    _finite_or_none(regression_performance(sums=sums, min_n=min_n, confidence=conf).metrics)


def test_mape_skips_zero_like_truths_instead_of_overflowing() -> None:
    predictions = np.array([2.0, 5.0, 3.0, 4.0])
    actual = np.array([1.0, 1e-310, 0.0, 2.0])
    sums = RegressionSums.from_arrays(predictions=predictions, actual=actual)
    assert sums.pct_rows == 2
    assert math.isfinite(sums.sum_abs_pct_error)
    assert sums.sum_abs_pct_error == pytest.approx(abs(2.0 - 1.0) / 1.0 + abs(4.0 - 2.0) / 2.0)


def _regression_batch(y: np.ndarray, predictions: np.ndarray) -> Batch:
    return Batch(rows=y.size, predictions=predictions, labels=y)


def test_r2_keeps_its_digits_at_mean_1e7() -> None:
    # Σy² − (Σy)²/n about 0 would cancel every digit of SS_tot (≈ n·1 against Σy² ≈ n·1e14):
    # the builder keeps Σ(y − c), Σ(y − c)² about the layout's reference median prediction c.
    rng = np.random.default_rng(33)
    y = 1e7 + rng.standard_normal(5000)
    pred = y + 0.5 * rng.standard_normal(5000)
    reference = _regression_batch(1e7 + rng.standard_normal(2000), 1e7 + rng.standard_normal(2000))
    layout = fit_layout(task="regression", reference=reference)
    sums = build_outcomes(layout, _regression_batch(y, pred), predicted=pred)[OVERALL].regression
    assert sums is not None
    assert sums.shift == pytest.approx(1e7, abs=1.0)
    r2 = regression_performance(sums=sums).get("r2")
    assert r2.value == pytest.approx(r2_score(y, pred), abs=1e-6)
    # the same rows summed about 0 (what profiles stored before the shift hold) lose R² entirely
    raw = RegressionSums.from_arrays(predictions=pred, actual=y)
    assert regression_performance(sums=raw).get("r2").value != pytest.approx(r2_score(y, pred), abs=1e-3)


def test_sums_with_different_shifts_merge_exactly() -> None:
    # An old profile (shift 0, raw sums) meets new ones (shift c) in one window: the merge
    # re-shifts to one origin and R², MAE... equal scikit-learn on the union.
    rng = np.random.default_rng(34)
    y = 1e3 + 10 * rng.standard_normal(3000)
    pred = y + rng.standard_normal(3000)
    parts = [slice(0, 1000), slice(1000, 2000), slice(2000, 3000)]
    sums = [
        RegressionSums.from_arrays(predictions=pred[s], actual=y[s], shift=c)
        for s, c in zip(parts, (0.0, 1e3, 990.0), strict=True)
    ]
    old = RegressionSums.from_dict(
        {k: v for k, v in sums[0].to_dict().items() if k not in {"shift", "moment_rows"} and "cubic" not in k}
    )
    for merged in (old.merge(sums[1]).merge(sums[2]), sums[2].merge(old.merge(sums[1]))):
        assert merged.shift == 1e3  # nearest the pooled mean of y
        report = regression_performance(sums=merged)
        assert report.get("r2").value == pytest.approx(r2_score(y, pred), rel=1e-9)
        assert report.get("mae").value == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
        # the old part lacks Σe³, Σ|e|³, Σe⁶: intervals fall back to the uncorrected t
        assert report.get("mae").method == "t"
        assert report.get("rmse").method == "log_t_mse"
    whole = sum_outcomes([Outcomes(regression=s) for s in sums]).regression
    assert whole is not None
    assert regression_performance(sums=whole).get("r2").value == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert regression_performance(sums=whole).get("mae").method == "skew_t"


def test_regression_intervals_are_finite_with_huge_errors() -> None:
    # e⁶ would overflow a sum past |e| ≈ 1e49: that row stays out of the skewness sums (moment_rows < n),
    # so the intervals fall back to the uncorrected t, and nothing served is inf or NaN
    pred = np.r_[np.zeros(40), 1e60]
    sums = RegressionSums.from_arrays(predictions=pred, actual=np.zeros(41))
    assert sums.moment_rows == 40
    assert math.isfinite(sums.sum_sextic_error)
    for value in regression_performance(sums=sums).metrics:
        for number in (value.value, value.ci_low, value.ci_high):
            assert number is None or math.isfinite(number), value
