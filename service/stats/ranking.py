"""ROC AUC and PR AUC (average precision) from a labelled score histogram, with intervals that
hold the population figure of the UNBINNED scores.

The histogram stores class counts per score bin, so every figure here is exact for the
bin-quantised scores, and each interval is widened by how far the unbinned figure can be:

- ROC AUC: only pairs in one bin can be misordered, so |exact − binned| ≤ ½ Σᵢ p⁺ᵢp⁻ᵢ/(PN)
  (``auc_binning_bound``);
- average precision: inside bin i the exact AP lies between putting its negatives after all
  its positives and before them (``ap_binning_range``), an asymmetric range.

Masses are in ascending score order and may be fractional (expected counts, for CBPE).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from service.stats.intervals import MetricValue, logit_normal, newcombe_auc, t_value

FloatArray = npt.NDArray[np.float64]


def roc_auc_from_masses(positive: FloatArray, negative: FloatArray) -> float:
    """ROC AUC of binned scores, bins in ascending score order; same-bin pairs count ½.

    AUC = Σᵢ p⁺ᵢ (Σ_{j<i} p⁻ⱼ + ½ p⁻ᵢ) / (P N), which is scikit-learn's ``roc_auc_score`` of
    the bin-quantised scores (ties count ½ there too).
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def auc_binning_bound(positive: FloatArray, negative: FloatArray) -> float:
    """Largest possible |binned AUC − exact AUC|: ½ Σᵢ p⁺ᵢ p⁻ᵢ / (P N)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    return float(0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum()))


def delong_se(positive: FloatArray, negative: FloatArray) -> float:
    """DeLong et al. (1988) standard error of the AUC, exact for tied (binned) scores.

    Placements: a positive in bin i has V₁₀ = (Σ_{j<i} p⁻ⱼ + ½p⁻ᵢ)/N, a negative in bin j has
    V₀₁ = (Σ_{i>j} p⁺ᵢ + ½p⁺ⱼ)/P; AUC = mean V₁₀ = mean V₀₁ and
    Var = S₁₀/P + S₀₁/N with S the sample variances (ddof = 1) of the placements, computed
    per bin in O(bins). Needs P, N ≥ 2.
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n_neg
    v01 = (n_pos - np.cumsum(pos) + 0.5 * pos) / n_pos
    auc = float(np.sum(pos * v10)) / n_pos
    s10 = float(np.sum(pos * (v10 - auc) ** 2)) / (n_pos - 1.0)
    s01 = float(np.sum(neg * (v01 - auc) ** 2)) / (n_neg - 1.0)
    return math.sqrt(max(0.0, s10 / n_pos + s01 / n_neg))


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


def ap_binning_range(positive: FloatArray, negative: FloatArray) -> tuple[float, float]:
    """(lowest, highest) average precision of the unbinned scores behind the histogram.

    Bin k (descending), with A positives and T rows above it, p positives and q negatives:
    the j-th positive's precision (A + j)/(T + j + negatives before it) is largest with the
    q negatives last and smallest with them first, so bin k adds between
    Σⱼ (A + j)/(T + q + j) and Σⱼ (A + j)/(T + j), divided by P. In closed form
    Σ_{j=1..p} (a + j)/(b + j) = p − (b − a)(ψ(b + p + 1) − ψ(b + 1)), ψ = digamma, O(bins).
    """
    pos = np.asarray(positive, np.float64)[::-1]
    neg = np.asarray(negative, np.float64)[::-1]
    above_pos = np.cumsum(pos) - pos
    above_all = np.cumsum(pos + neg) - pos - neg

    def precision_sum(a: FloatArray, b: FloatArray) -> float:
        return float(np.sum(pos - (b - a) * (special.digamma(b + pos + 1.0) - special.digamma(b + 1.0))))

    total = float(pos.sum())
    return precision_sum(above_pos, above_all + neg) / total, precision_sum(above_pos, above_all) / total


def roc_auc_value(positive: FloatArray, negative: FloatArray, *, confidence: float = 0.95) -> MetricValue:
    """Binned ROC AUC with an interval for the population AUC of the unbinned scores.

    The hull of DeLong on the logit scale (no assumption on the score law; exact for ties)
    and Newcombe's method 5 (Hanley–McNeil shaped, but never degenerate), widened by
    ``auc_binning_bound`` on each side and clipped to [0, 1]. DeLong's estimated variance is
    too small with ~12 positives and an AUC near 1 (0 at an AUC of 1); Newcombe leans on an
    exponential score law; the hull covers ≥ 0.967 in every scenario of
    docs/statistics-outcomes.md. ``n`` = P + N. Needs P, N ≥ 2 (callers require more).
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    auc = roc_auc_from_masses(pos, neg)
    d_low, d_high = logit_normal(value=auc, se=delong_se(pos, neg), confidence=confidence)
    n_low, n_high = newcombe_auc(auc=auc, n_positive=n_pos, n_negative=n_neg, confidence=confidence)
    slack = auc_binning_bound(pos, neg)
    interval = (max(0.0, min(d_low, n_low) - slack), min(1.0, max(d_high, n_high) + slack))
    return MetricValue.ok(
        "roc_auc", value=auc, n=round(n_pos + n_neg), interval=interval, method="delong_newcombe"
    )


def pr_auc_value(positive: FloatArray, negative: FloatArray, *, confidence: float = 0.95) -> MetricValue:
    """Binned average precision with an interval for the population AP of the unbinned scores.

    Boyd, Eng & Page's (2013) logit interval logit θ ± q/√(P θ(1 − θ)) (n = P positives),
    with q the t quantile on P − 1 degrees of freedom rather than z, which undercovers with
    ~12 positives (calibrated rare-event model, 300 rows). θ is clamped
    to [1/(2P), 1 − 1/(2P)] so an AP of exactly 1 still gets a lower limit; the interval is
    then stretched to the binning range: low − (AP − lowest), high + (highest − AP).
    ``n`` = P.
    """
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    n_pos = float(pos.sum())
    ap = average_precision_from_masses(pos, neg)
    centre = min(max(ap, 0.5 / n_pos), 1.0 - 0.5 / n_pos)
    logit = math.log(centre / (1.0 - centre))
    half = t_value(confidence, round(n_pos) - 1) / math.sqrt(n_pos * centre * (1.0 - centre))
    low, high = float(special.expit(logit - half)), float(special.expit(logit + half))
    lowest, highest = ap_binning_range(pos, neg)
    interval = (
        max(0.0, min(low, ap) - max(0.0, ap - lowest)),
        min(1.0, max(high, ap) + max(0.0, highest - ap)),
    )
    return MetricValue.ok("pr_auc", value=ap, n=round(n_pos), interval=interval, method="logit_binned")
