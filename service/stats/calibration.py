"""Expected calibration error from a labelled score histogram: debiased, with an interval.

Population target, over G groups g of adjacent histogram bins:

    ECE = Σ_g π_g |d_g|,   d_g = E[y − s | score in g],   π_g = P(score in g).

Groups: the histogram's bins cut into ``ECE_GROUPS`` = 10 runs of adjacent bins (the usual
10-bin ECE; on layouts with quantile score edges each run holds ~1/10 of the reference's
class-balanced mass). Measured (benchmarks/coverage/performance_design.py): a calibrated
model's mean estimate at 150 rows is 0.025 / 0.028 / 0.032 / 0.049 with 5 / 10 / 20 / all
51 bins, and a mild miscalibration (ECE 0.038) is flagged (lower limit > 0) in 59 / 41 /
20 / 4 % of 2,000-row windows; all 51 bins also undercover at 20,000 rows (0.928). Five
groups average away miscalibration confined to part of the score range, so 10.

**Why the plug-in is wrong.** T = Σ π̂_g |d̂_g| is biased upwards: E|d̂_g| ≈ |d_g| + σ_g√(2/π)
when d_g ≈ 0, so a perfectly calibrated model shows T ≈ 0.09 at 150 rows and 0.008 at 20,000.

**Debiasing (folded normal, pooled).** With d̂_g ~ N(d_g, σ_g²), E|d̂_g| = |d_g| + σ_g β(|d_g|/σ_g),
β(c) = √(2/π) e^{−c²/2} − 2cΦ(−c) (decreasing, convex). Given ECE = E, E[T] is smallest when
|d_g| ∝ σ_g, where E[T] = E + S·β(E/S) with S = Σ π_g σ_g. The estimate Ê solves
Ê + S·β(Ê/S) = T (Ê = 0 when T ≤ S√(2/π)); it is unbiased at large n and shrinks noise to 0.

**Interval.** Upper: U = T + z·se, se² = (E[(y − s)²] − Ê²)/N, because with the true signs
ε_g = sign(d_g) the row mean of ε_g(y − s) is unbiased for ECE, has that variance and is at
most T. Lower: L solves L + S·β(L/S) = T − z·se (the least favourable spread of the gaps),
0 below. Both keep their level at any confidence (0.999 included); a calibrated model's
lower limit is above 0 in ~0.1 % of windows at 0.95.

**Variances from the histogram.** Σ(y − s)² is not stored. Inside bin b (edges e_b, e_{b+1})
y − s lies in [−e_{b+1}, 1 − e_b], so by Bhatia–Davis E[(y − s)² | b] ≤ e_{b+1}(1 − e_b) +
d_b(1 − e_b − e_{b+1}), linear in d_b, so Σ_b over rows is estimated without bias from the
bin's positives and score sum (exact to O(bin width) for narrow bins). σ_g² is that bound
minus d̂_g², floored at s̄_g(1 − s̄_g) (s̄_g the group's mean score), the variance a calibrated
group would have: with 3 % positives a group often holds no positive at 150 rows, and its
plug-in variance is then far too small.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from service.stats.aggregates import ScoreHistogram
from service.stats.intervals import MetricValue, z_value

FloatArray = npt.NDArray[np.float64]
ECE_GROUPS = 10
METHOD = "debiased_folded_normal"
_ROOT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def group_bounds(bins: int, groups: int = ECE_GROUPS) -> list[int]:
    """Bin indices that start each group and end the last: round(k·bins/groups), k = 0..groups."""
    count = max(1, min(groups, bins))
    return sorted({round(k * bins / count) for k in range(count + 1)})


def _group_sums(
    histogram: ScoreHistogram, groups: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per group: labelled rows, Σ(y − s), score sum and the Bhatia–Davis Σ(y − s)² bound."""
    pos = np.asarray(histogram.positive, np.float64)
    rows = pos + np.asarray(histogram.negative, np.float64)
    score = np.asarray(histogram.score_sum_positive, np.float64) + np.asarray(
        histogram.score_sum_negative, np.float64
    )
    edges = np.asarray(histogram.edges, np.float64)
    low, high = edges[:-1], edges[1:]
    second = rows * high * (1.0 - low) + (pos - score) * (1.0 - low - high)
    starts = np.asarray(group_bounds(histogram.bins, groups)[:-1])
    return tuple(np.add.reduceat(a, starts) for a in (rows, pos - score, score, second))  # type: ignore[return-value]


def _beta(c: float) -> float:
    """β(c) = E|N(c, 1)| − |c| = √(2/π) e^{−c²/2} − 2c Φ(−c), c ≥ 0."""
    return _ROOT_2_OVER_PI * math.exp(-c * c / 2.0) - c * math.erfc(c / math.sqrt(2.0))


def _deconvolve(target: float, spread: float) -> float:
    """The E ≥ 0 with E + S·β(E/S) = target (S = ``spread``); 0 when target ≤ S√(2/π)."""
    if spread <= 0.0:
        return max(target, 0.0)
    if target <= spread * _ROOT_2_OVER_PI:
        return 0.0
    low, high = 0.0, target  # E + Sβ(E/S) ≥ E, so the root is at most the target
    for _ in range(40):  # target ≤ 1: 2⁻⁴⁰ ≈ 1e-12
        middle = (low + high) / 2.0
        if middle + spread * _beta(middle / spread) > target:
            high = middle
        else:
            low = middle
    return (low + high) / 2.0


def ece_value(
    histogram: ScoreHistogram, *, confidence: float = 0.95, groups: int = ECE_GROUPS
) -> MetricValue:
    """Debiased ECE over the histogram's labelled rows (see the module docstring); needs rows > 0.

    ``n`` = labelled rows. Value and limits are in [0, 1] (a fraction of probability).
    ``groups`` other than 10 serve the design benchmark that chose 10.
    """
    rows, gap, score, second = _group_sums(histogram, groups)
    total = float(rows.sum())
    used = rows > 0
    rows, gap, score, second = rows[used], gap[used], score[used], second[used]
    d = gap / rows
    mean_score = np.clip(score / rows, 0.0, 1.0)
    variance = np.maximum(second / rows - d * d, mean_score * (1.0 - mean_score))
    share = rows / total
    plug_in = float(np.sum(share * np.abs(d)))
    spread = float(np.sum(share * np.sqrt(variance / rows)))
    estimate = _deconvolve(plug_in, spread)
    se = math.sqrt(max(float(second.sum()) / total - estimate * estimate, 0.0) / total)
    half = z_value(confidence) * se
    interval = (_deconvolve(plug_in - half, spread), min(1.0, plug_in + half))
    return MetricValue.ok("ece", value=min(estimate, 1.0), n=round(total), interval=interval, method=METHOD)
