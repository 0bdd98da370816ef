"""Realised performance from outcome aggregates (binary, multiclass, regression).

Each function reads the mergeable aggregates of ``aggregates.py`` and returns a
``PerformanceReport``: every figure is a ``MetricValue`` with its own denominator ``n``,
an interval (method named in ``MetricValue.method``) and ``insufficient_data`` below its
minimum size. Sizes, by default:

- ``min_n`` = 30 labelled rows for any figure of the window (accuracy, Brier, ECE, MAE…);
  below ~30 the normal and Wilson approximations stop being informative (a 95 % Wilson
  interval at n = 30, p = 0.8 is already ±0.14 wide).
- ``min_denominator`` = 10 for a conditional rate (precision: predicted positives;
  recall: actual positives; specificity: actual negatives; F1: TP + FP + FN) and for each
  class of ROC/PR AUC.

Units: every binary/multiclass figure is a fraction in [0, 1]; MAE, RMSE and mean error
are in the target's unit; MAPE is a fraction (0.05 = 5 %), as in scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.stats.aggregates import BinaryCounts, MulticlassCounts, RegressionSums, ScoreHistogram
from service.stats.intervals import (
    Interval,
    MetricValue,
    hanley_mcneil,
    logit_interval,
    normal_mean,
    sample_variance,
    wilson,
    z_value,
)

FloatArray = npt.NDArray[np.float64]
MIN_N = 30
MIN_DENOMINATOR = 10


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    """All figures of one window: ``n`` rows seen, ``labelled`` of them with outcomes."""

    task: str
    n: int
    labelled: int
    metrics: tuple[MetricValue, ...]

    def get(self, metric: str) -> MetricValue:
        for value in self.metrics:
            if value.metric == metric:
                return value
        raise KeyError(metric)


# ---------------------------------------------------------------- score-histogram figures


def roc_auc_from_masses(positive: FloatArray, negative: FloatArray) -> float:
    """ROC AUC of binned scores, bins in ascending score order; same-bin pairs count ½.

    AUC = Σᵢ p⁺ᵢ (Σ_{j<i} p⁻ⱼ + ½ p⁻ᵢ) / (P N). Masses may be fractional (expected counts).
    Against the exact AUC of the unbinned scores the error is at most
    ``auc_binning_bound`` = ½ Σᵢ p⁺ᵢ p⁻ᵢ / (P N): only same-bin pairs can be misordered.
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def auc_binning_bound(positive: FloatArray, negative: FloatArray) -> float:
    """Largest possible |binned AUC − exact AUC|: ½ Σᵢ p⁺ᵢ p⁻ᵢ / (P N)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    return float(0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum()))


def average_precision_from_masses(positive: FloatArray, negative: FloatArray) -> float:
    """Average precision (step-wise PR AUC) of binned scores, bins ascending.

    Thresholds descend bin by bin; AP = Σₖ (Rₖ − Rₖ₋₁) Pₖ with Pₖ, Rₖ the precision and
    recall of "score in bin k or above". This is exactly scikit-learn's
    ``average_precision_score`` applied to the bin-quantised scores (no interpolation).
    """
    pos = np.asarray(positive, np.float64)[::-1]
    both = pos + np.asarray(negative, np.float64)[::-1]
    cum_pos, cum_all = np.cumsum(pos), np.cumsum(both)
    hit = pos > 0
    return float(np.sum(pos[hit] / pos.sum() * cum_pos[hit] / cum_all[hit]))


def expected_calibration_error(histogram: ScoreHistogram) -> float:
    """ECE over the histogram's labelled rows: Σ_b (n_b/N) |pos_b/n_b − mean score_b|."""
    pos = np.asarray(histogram.positive, np.float64)
    n_b = pos + np.asarray(histogram.negative, np.float64)
    sums = np.asarray(histogram.score_sum_positive) + np.asarray(histogram.score_sum_negative)
    used = n_b > 0
    gap = np.abs(pos[used] - sums[used])  # n_b · |rate − mean score|
    return float(gap.sum() / n_b.sum())


# ---------------------------------------------------------------- binary


def _proportion(metric: str, x: int, n: int, *, ok: bool, confidence: float) -> MetricValue:
    if not ok or n == 0:
        return MetricValue.insufficient(metric, n=n, method="wilson")
    return MetricValue.ok(
        metric,
        value=x / n,
        n=n,
        interval=wilson(successes=x, trials=n, confidence=confidence),
        method="wilson",
    )


def f1_value(*, tp: int, fp: int, fn: int, ok: bool, confidence: float) -> MetricValue:
    """F1 = 2TP / (2TP + FP + FN), n = TP + FP + FN.

    Interval: F1 = 2J/(1 + J) with J = TP/(TP + FP + FN) (the Jaccard index), a binomial
    proportion given n; the Wilson limits of J are mapped through that increasing map.
    """
    n = tp + fp + fn
    if not ok or n == 0:
        return MetricValue.insufficient("f1", n=n, method="wilson_jaccard")
    low, high = wilson(successes=tp, trials=n, confidence=confidence)
    return MetricValue.ok(
        "f1",
        value=2 * tp / (2 * tp + fp + fn),
        n=n,
        interval=(2 * low / (1 + low), 2 * high / (1 + high)),
        method="wilson_jaccard",
    )


def confusion_metrics(
    counts: BinaryCounts,
    *,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> tuple[MetricValue, ...]:
    """Accuracy, precision, recall, specificity (Wilson) and F1 from the confusion counts."""
    c, enough = counts, counts.labelled >= min_n
    rates = (
        ("accuracy", c.tp + c.tn, c.labelled, enough),
        ("precision", c.tp, c.tp + c.fp, enough and c.tp + c.fp >= min_denominator),
        ("recall", c.tp, c.tp + c.fn, enough and c.tp + c.fn >= min_denominator),
        ("specificity", c.tn, c.tn + c.fp, enough and c.tn + c.fp >= min_denominator),
    )
    out = [_proportion(m, x, n, ok=ok, confidence=confidence) for m, x, n, ok in rates]
    f1_ok = enough and c.tp + c.fp + c.fn >= min_denominator
    out.append(f1_value(tp=c.tp, fp=c.fp, fn=c.fn, ok=f1_ok, confidence=confidence))
    return tuple(out)


def brier_score(counts: BinaryCounts, *, min_n: int = MIN_N, confidence: float = 0.95) -> MetricValue:
    """Brier = Σ(score − y)² / n over labelled scored rows, n = ``scored_labelled``.

    Interval: normal, with the variance bounded by Bhatia–Davis, Var ≤ B(1 − B) for a
    variable in [0, 1] (scores are probabilities), so it is conservative; Σ(score − y)⁴
    is not stored, so the sample variance is unknown.
    """
    n = counts.scored_labelled
    if n < max(min_n, 2):
        return MetricValue.insufficient("brier", n=n, method="normal_bhatia_davis")
    b = counts.brier_sum / n
    low, high = normal_mean(mean=b, variance=b * (1 - b) * n / (n - 1), n=n, confidence=confidence)
    return MetricValue.ok(
        "brier", value=b, n=n, interval=(max(0.0, low), min(1.0, high)), method="normal_bhatia_davis"
    )


def histogram_metrics(
    histogram: ScoreHistogram,
    *,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> tuple[MetricValue, ...]:
    """ROC AUC (Hanley–McNeil), PR AUC (= average precision; logit interval, n = P) and ECE."""
    pos = np.asarray(histogram.positive, np.float64)
    neg = np.asarray(histogram.negative, np.float64)
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    n = n_pos + n_neg
    enough = n >= min_n and min(n_pos, n_neg) >= max(min_denominator, 1)
    if not enough:
        roc = MetricValue.insufficient("roc_auc", n=n, method="hanley_mcneil")
        pr = MetricValue.insufficient("pr_auc", n=n_pos, method="logit")
    else:
        auc = roc_auc_from_masses(pos, neg)
        roc = MetricValue.ok(
            "roc_auc",
            value=auc,
            n=n,
            method="hanley_mcneil",
            interval=hanley_mcneil(auc=auc, n_positive=n_pos, n_negative=n_neg, confidence=confidence),
        )
        ap = average_precision_from_masses(pos, neg)
        pr = MetricValue.ok(
            "pr_auc",
            value=ap,
            n=n_pos,
            method="logit",
            interval=logit_interval(value=ap, n=n_pos, confidence=confidence),
        )
    ece = MetricValue.insufficient("ece", n=n, method="none")
    if n >= max(min_n, 1):
        ece = MetricValue.ok(
            "ece", value=expected_calibration_error(histogram), n=n, interval=None, method="none"
        )
    return roc, pr, ece


def binary_performance(
    *,
    counts: BinaryCounts,
    histogram: ScoreHistogram | None = None,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> PerformanceReport:
    """Accuracy, precision, recall, specificity, F1, Brier and, given the labelled score
    histogram, ROC AUC, PR AUC and expected calibration error (all fractions)."""
    metrics = confusion_metrics(counts, min_n=min_n, min_denominator=min_denominator, confidence=confidence)
    metrics += (brier_score(counts, min_n=min_n, confidence=confidence),)
    if histogram is not None:
        metrics += histogram_metrics(
            histogram, min_n=min_n, min_denominator=min_denominator, confidence=confidence
        )
    return PerformanceReport("binary_classification", counts.n, counts.labelled, metrics)


# ---------------------------------------------------------------- multiclass


def _f1_parts(p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per-class F1, support r and the two gradient pieces of f_k = 2 d_k / (r_k + c_k).

    ∂f_k/∂p_ij = [i=j=k]·b_k − [i=k]·a_k − [j=k]·a_k with b = 2/D, a = 2d/D², D = r + c.
    Classes never seen (D = 0) are excluded, as scikit-learn infers labels from the data.
    """
    r, c, d = p.sum(axis=1), p.sum(axis=0), np.diag(p)
    used = (r + c) > 0
    denom = np.where(used, r + c, 1.0)
    f1 = np.where(used, 2 * d / denom, 0.0)
    a = np.where(used, 2 * d / denom**2, 0.0)
    b = np.where(used, 2 / denom, 0.0)
    return f1, r, np.stack([a, b]), used


def _delta_interval(value: float, grad: FloatArray, p: FloatArray, n: int, confidence: float) -> Interval:
    """value ± z √(Var/n), Var = Σ g² p − (Σ g p)² (multinomial covariance diag(p) − ppᵀ)."""
    var = float(np.sum(grad**2 * p) - np.sum(grad * p) ** 2)
    half = z_value(confidence) * math.sqrt(max(0.0, var) / n)
    return max(0.0, value - half), min(1.0, value + half)


def multiclass_f1(
    counts: MulticlassCounts, *, confidence: float = 0.95
) -> tuple[float, float, tuple[Interval, Interval]]:
    """Macro and weighted F1 with delta-method (multinomial) normal intervals.

    macro = mean_k f_k over classes seen; weighted = Σ_k r_k f_k (r_k = support share).
    Requires ``counts.labelled`` > 0.
    """
    k, n = len(counts.classes), counts.labelled
    p = np.asarray(counts.matrix, np.float64).reshape(k, k) / n
    f1, r, (a, b), used = _f1_parts(p)
    eye = np.eye(k)
    g_macro = (eye * b[:, None] - a[:, None] - a[None, :]) / used.sum()
    macro = float(f1[used].mean())
    weighted = float(np.sum(r * f1))
    g_weighted = f1[:, None] + eye * (r * b)[:, None] - (r * a)[:, None] - (r * a)[None, :]
    return (
        macro,
        weighted,
        (
            _delta_interval(macro, g_macro, p, n, confidence),
            _delta_interval(weighted, g_weighted, p, n, confidence),
        ),
    )


def multiclass_performance(
    *, counts: MulticlassCounts, min_n: int = MIN_N, confidence: float = 0.95
) -> PerformanceReport:
    """Accuracy (Wilson), macro F1 and weighted F1 (delta method), n = labelled rows."""
    n = counts.labelled
    k = len(counts.classes)
    if n < max(min_n, 1):
        metrics = (
            MetricValue.insufficient("accuracy", n=n, method="wilson"),
            MetricValue.insufficient("f1_macro", n=n, method="delta_multinomial"),
            MetricValue.insufficient("f1_weighted", n=n, method="delta_multinomial"),
        )
        return PerformanceReport("multiclass_classification", counts.n, n, metrics)
    correct = sum(counts.matrix[i * k + i] for i in range(k))
    macro, weighted, (ci_macro, ci_weighted) = multiclass_f1(counts, confidence=confidence)
    metrics = (
        _proportion("accuracy", correct, n, ok=True, confidence=confidence),
        MetricValue.ok("f1_macro", value=macro, n=n, interval=ci_macro, method="delta_multinomial"),
        MetricValue.ok("f1_weighted", value=weighted, n=n, interval=ci_weighted, method="delta_multinomial"),
    )
    return PerformanceReport("multiclass_classification", counts.n, n, metrics)


# ---------------------------------------------------------------- regression


def _regression_ok(s: RegressionSums, confidence: float) -> tuple[MetricValue, ...]:
    n = s.labelled
    mae, me, mse = s.sum_abs_error / n, s.sum_error / n, s.sum_sq_error / n
    var_abs = sample_variance(total=s.sum_abs_error, total_sq=s.sum_sq_error, n=n)
    var_err = sample_variance(total=s.sum_error, total_sq=s.sum_sq_error, n=n)
    var_sq = sample_variance(total=s.sum_sq_error, total_sq=s.sum_quartic_error, n=n)
    mse_low, mse_high = normal_mean(mean=mse, variance=var_sq, n=n, confidence=confidence)
    mae_low, mae_high = normal_mean(mean=mae, variance=var_abs, n=n, confidence=confidence)
    ss_tot = s.sum_y_sq - s.sum_y * s.sum_y / n
    rmse_ci = (math.sqrt(max(0.0, mse_low)), math.sqrt(mse_high))
    out = [
        MetricValue.ok("mae", value=mae, n=n, interval=(max(0.0, mae_low), mae_high), method="normal"),
        MetricValue.ok("rmse", value=math.sqrt(mse), n=n, interval=rmse_ci, method="normal_sqrt_mse"),
        MetricValue.ok(
            "mean_error",
            value=me,
            n=n,
            method="normal",
            interval=normal_mean(mean=me, variance=var_err, n=n, confidence=confidence),
        ),
    ]
    # ss_tot ≤ 1e-12 · Σy² is rounding noise around a constant target: R² is undefined.
    r2_ok = ss_tot > 1e-12 * max(s.sum_y_sq, 1e-300)
    out.append(
        MetricValue.ok("r2", value=1.0 - s.sum_sq_error / ss_tot, n=n, interval=None, method="none")
        if r2_ok
        else MetricValue.insufficient("r2", n=n, method="none")
    )
    return tuple(out)


def regression_performance(
    *, sums: RegressionSums, min_n: int = MIN_N, confidence: float = 0.95
) -> PerformanceReport:
    """MAE, RMSE, mean error (= bias, prediction − y), MAPE and R², n = labelled rows.

    Intervals: MAE and mean error are means (of |e| and e) with variances from Σe²; RMSE
    is √ of the normal interval of MSE, whose variance comes from Σe⁴ (first-order this is
    the delta method, se(RMSE) = se(MSE) / (2 RMSE), but it never goes below 0). MAPE and R²
    have no interval: Σ(e/y)² and the cross sums R² would need are not stored.
    MAPE = Σ|e|/|y| / ``pct_rows`` skips y = 0 (scikit-learn would divide by 2.2e-16).
    """
    n = sums.labelled
    if n < max(min_n, 1):
        metrics = tuple(
            MetricValue.insufficient(m, n=n, method=k)
            for m, k in (
                ("mae", "normal"),
                ("rmse", "normal_sqrt_mse"),
                ("mean_error", "normal"),
                ("r2", "none"),
            )
        )
    else:
        metrics = _regression_ok(sums, confidence)
    mape = MetricValue.insufficient("mape", n=sums.pct_rows, method="none")
    if sums.pct_rows >= max(min_n, 1):
        mape = MetricValue.ok(
            "mape",
            value=sums.sum_abs_pct_error / sums.pct_rows,
            n=sums.pct_rows,
            interval=None,
            method="none",
        )
    return PerformanceReport("regression", sums.n, n, (*metrics, mape))
