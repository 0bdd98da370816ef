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
  class of ROC/PR AUC and of log loss.

Every interval is checked by its simulated coverage (benchmarks/coverage/performance.py;
the table and the documented misses are in docs/statistics-outcomes.md). The score-histogram
figures live in ``ranking`` (ROC/PR AUC) and ``calibration`` (ECE).

Units: every binary/multiclass figure is a fraction in [0, 1], log loss is in nats; MAE,
RMSE and mean error are in the target's unit; MAPE is a fraction (0.05 = 5 %), as in
scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.stats.aggregates import BinaryCounts, MulticlassCounts, RegressionSums, ScoreHistogram
from service.stats.calibration import METHOD as ECE_METHOD
from service.stats.calibration import ece_value
from service.stats.intervals import (
    Interval,
    MetricValue,
    Moments,
    logit_normal,
    normal_mean,
    skewed_mean_interval,
    t_value,
    wilson,
    z_value,
)
from service.stats.ranking import pr_auc_value, roc_auc_value

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


def log_loss(
    counts: BinaryCounts,
    *,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> MetricValue:
    """Mean log loss Σℓ/n in nats over labelled scored rows (scikit-learn's ``log_loss``), n = rows.

    Interval: skew-corrected t on the mean loss from Σℓ, Σℓ², Σℓ³ (a rare confident miss
    makes ℓ very right-skewed, and a window without one has a small mean and a small
    variance together). Not served when the window merges profiles stored before log
    loss existed (``log_loss_rows`` < ``scored_labelled``: the sum would be of fewer rows),
    nor with fewer than ``min_denominator`` labelled rows of either class, whose loss the
    window then barely samples.
    """
    n = counts.log_loss_rows
    classes = min(counts.tp + counts.fn, counts.tn + counts.fp)
    if n != counts.scored_labelled or n < max(min_n, 2) or classes < max(min_denominator, 1):
        return MetricValue.insufficient("log_loss", n=n, method="skew_t")
    moments = Moments.from_sums(
        total=counts.log_loss_sum, total_sq=counts.log_loss_sq_sum, total_cube=counts.log_loss_cube_sum, n=n
    )
    low, high = skewed_mean_interval(moments, confidence=confidence)
    return MetricValue.ok(
        "log_loss", value=moments.mean, n=n, interval=(max(0.0, low), high), method="skew_t"
    )


def calibration_error(
    histogram: ScoreHistogram, *, min_n: int = MIN_N, confidence: float = 0.95
) -> MetricValue:
    """Expected calibration error over 10 groups of adjacent score bins, debiased, with an
    interval for the population ECE (``service.stats.calibration``); n = labelled rows."""
    n = sum(histogram.positive) + sum(histogram.negative)
    if n < max(min_n, 1):
        return MetricValue.insufficient("ece", n=n, method=ECE_METHOD)
    return ece_value(histogram, confidence=confidence)


def histogram_metrics(
    histogram: ScoreHistogram,
    *,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> tuple[MetricValue, ...]:
    """ROC AUC, PR AUC (= average precision, n = P) and ECE from the labelled score histogram.

    The AUC intervals hold the population figure of the unbinned scores (``ranking``).
    """
    pos = np.asarray(histogram.positive, np.float64)
    neg = np.asarray(histogram.negative, np.float64)
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    n = n_pos + n_neg
    if n >= min_n and min(n_pos, n_neg) >= max(min_denominator, 2):
        roc = roc_auc_value(pos, neg, confidence=confidence)
        pr = pr_auc_value(pos, neg, confidence=confidence)
    else:
        roc = MetricValue.insufficient("roc_auc", n=n, method="delong_newcombe")
        pr = MetricValue.insufficient("pr_auc", n=n_pos, method="logit_binned")
    return roc, pr, calibration_error(histogram, min_n=min_n, confidence=confidence)


def binary_performance(
    *,
    counts: BinaryCounts,
    histogram: ScoreHistogram | None = None,
    min_n: int = MIN_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> PerformanceReport:
    """Accuracy, precision, recall, specificity, F1, Brier, log loss and, given the labelled
    score histogram, ROC AUC, PR AUC and expected calibration error (fractions; log loss in nats)."""
    metrics = confusion_metrics(counts, min_n=min_n, min_denominator=min_denominator, confidence=confidence)
    metrics += (
        brier_score(counts, min_n=min_n, confidence=confidence),
        log_loss(counts, min_n=min_n, min_denominator=min_denominator, confidence=confidence),
    )
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
    """Delta method on the logit: logit v ± z·se/(v(1 − v)), se² = (Σ g² p − (Σ g p)²)/n (the
    multinomial covariance diag(p) − ppᵀ). On the logit the interval stays in (0, 1) and its
    skew follows F1's; v ± z·se undercovered at n = 150. At an F1 of exactly 0 or 1 the
    linear interval v ± z·se (clipped) is used."""
    se = math.sqrt(max(0.0, float(np.sum(grad**2 * p) - np.sum(grad * p) ** 2)) / n)
    if 0.0 < value < 1.0 and se > 0.0:
        return logit_normal(value=value, se=se, confidence=confidence)
    half = z_value(confidence) * se
    return max(0.0, value - half), min(1.0, value + half)


def multiclass_f1(
    counts: MulticlassCounts, *, confidence: float = 0.95
) -> tuple[float, float, tuple[Interval, Interval]]:
    """Macro and weighted F1 with delta-method (multinomial) intervals on the logit.

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
            MetricValue.insufficient("f1_macro", n=n, method="delta_logit"),
            MetricValue.insufficient("f1_weighted", n=n, method="delta_logit"),
        )
        return PerformanceReport("multiclass_classification", counts.n, n, metrics)
    correct = sum(counts.matrix[i * k + i] for i in range(k))
    macro, weighted, (ci_macro, ci_weighted) = multiclass_f1(counts, confidence=confidence)
    metrics = (
        _proportion("accuracy", correct, n, ok=True, confidence=confidence),
        MetricValue.ok("f1_macro", value=macro, n=n, interval=ci_macro, method="delta_logit"),
        MetricValue.ok("f1_weighted", value=weighted, n=n, interval=ci_weighted, method="delta_logit"),
    )
    return PerformanceReport("multiclass_classification", counts.n, n, metrics)


# ---------------------------------------------------------------- regression


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _rmse_interval(s: RegressionSums, skew_known: bool, confidence: float) -> Interval:
    """√ of the union of two intervals for MSE = mean of e²: the skew-corrected t (Hall, from
    Σe², Σe⁴, Σe⁶) and the t interval on log MSE, MSE·exp(±t·s/(MSE√n)); see the docstring of
    ``regression_performance`` for why both."""
    n = s.labelled
    moments = Moments.from_sums(
        total=s.sum_sq_error,
        total_sq=s.sum_quartic_error,
        total_cube=s.sum_sextic_error if skew_known else None,
        n=n,
    )
    if moments.mean <= 0.0:
        return 0.0, 0.0
    low, high = skewed_mean_interval(moments, confidence=confidence)
    stretch = math.exp(t_value(confidence, n - 1) * moments.sd / (moments.mean * math.sqrt(n)))
    low, high = min(low, moments.mean / stretch), max(high, moments.mean * stretch)
    return math.sqrt(max(0.0, low)), math.sqrt(high)


def _error_figures(s: RegressionSums, confidence: float) -> tuple[MetricValue, ...]:
    """MAE, RMSE and mean error with their intervals (see ``regression_performance``)."""
    n = s.labelled
    skew_known = s.moment_rows == n
    mean_method, rmse_method = ("skew_t", "skew_t_log_mse") if skew_known else ("t", "log_t_mse")
    abs_errors = Moments.from_sums(
        total=s.sum_abs_error,
        total_sq=s.sum_sq_error,
        total_cube=s.sum_abs_cubic_error if skew_known else None,
        n=n,
    )
    errors = Moments.from_sums(
        total=s.sum_error, total_sq=s.sum_sq_error, total_cube=s.sum_cubic_error if skew_known else None, n=n
    )
    ok = _finite(s.sum_sq_error, s.sum_quartic_error, s.sum_sextic_error, s.sum_cubic_error)
    mae_low, mae_high = skewed_mean_interval(abs_errors, confidence=confidence)
    mae_ci = (max(0.0, mae_low), mae_high) if ok else None
    rmse_ci = _rmse_interval(s, skew_known, confidence) if ok else None
    error_ci = skewed_mean_interval(errors, confidence=confidence) if ok else None
    return (
        MetricValue.ok("mae", value=abs_errors.mean, n=n, interval=mae_ci, method=mean_method),
        MetricValue.ok(
            "rmse", value=math.sqrt(s.sum_sq_error / n), n=n, interval=rmse_ci, method=rmse_method
        ),
        MetricValue.ok("mean_error", value=errors.mean, n=n, interval=error_ci, method=mean_method),
    )


def _r2(s: RegressionSums) -> MetricValue:
    """R² = 1 − SSE/SS_tot. Σ(y − c)² and Σ(y − c) are about the shift c (the reference median
    prediction), so SS_tot keeps its digits when mean(y) ≫ sd(y); SS_tot ≤ 1e-12·Σ(y − c)² is
    rounding noise around a constant target, where R² is undefined."""
    n = s.labelled
    ss_tot = s.sum_y_sq - s.sum_y * s.sum_y / n
    if ss_tot > 1e-12 * max(s.sum_y_sq, 1e-300) and _finite(ss_tot, s.sum_sq_error):
        return MetricValue.ok("r2", value=1.0 - s.sum_sq_error / ss_tot, n=n, interval=None, method="none")
    return MetricValue.insufficient("r2", n=n, method="none")


def regression_performance(
    *, sums: RegressionSums, min_n: int = MIN_N, confidence: float = 0.95
) -> PerformanceReport:
    """MAE, RMSE, mean error (= bias, prediction − y), MAPE and R², n = labelled rows.

    Intervals. MAE and mean error: skew-corrected t (``skewed_mean_interval``: the union of
    the t interval and Hall's transformation) on the mean of |e| and of e, from Σ|e|, Σe²,
    Σ|e|³ and Σe, Σe², Σe³. RMSE: √ of the union of the skew-corrected t on MSE (from Σe²,
    Σe⁴, Σe⁶) and the t interval on log MSE. Heavy tails make e² extremely right-skewed and
    its sample variance too small just when MSE is underestimated (coverage of the old
    normal-on-MSE interval: 0.84 with Laplace errors at n = 30, 0.64 with t₃); see
    docs/statistics-outcomes.md for the coverage table and the laws where 0.93 is out of
    reach (t₃: Var e² is infinite). Windows merging profiles stored before Σe³, Σ|e|³, Σe⁶
    existed (``moment_rows`` < ``labelled``) get the uncorrected t / log-t intervals (methods
    "t" and "log_t_mse"). MAPE and R² have no interval: Σ(e/y)² and the cross sums R² would
    need are not stored. MAPE = Σ|e|/|y| / ``pct_rows`` skips y = 0 (scikit-learn would
    divide by 2.2e-16).
    """
    n = sums.labelled
    if n < max(min_n, 2):
        metrics = tuple(
            MetricValue.insufficient(m, n=n, method=k)
            for m, k in (
                ("mae", "skew_t"),
                ("rmse", "skew_t_log_mse"),
                ("mean_error", "skew_t"),
                ("r2", "none"),
            )
        )
    else:
        metrics = (*_error_figures(sums, confidence), _r2(sums))
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
