"""Group fairness of a regression model: per-group bias and mean absolute error, and their ranges.

Per group, over its labelled rows (n of them; e = prediction − label, in the target's unit):

    ME  = Σe / n      mean error, the group's bias (> 0: the model over-predicts for it)
    MAE = Σ|e| / n    mean absolute error

Across groups (fairlearn's bounded-group-loss view, ``MetricFrame(...).difference()``):
``mean_error_difference`` = max_g ME_g − min_g ME_g and ``mae_difference`` = max_g MAE_g −
min_g MAE_g, both ≥ 0 in the target's unit.

Everything is read from ``aggregates.RegressionSums`` of each group: n = ``labelled``,
Σe, Σ|e| and Σe² (= Σ|e|², so one stored sum serves both spreads). They add across buckets,
so a window's figures are exact whatever the number of buckets merged.

Interval of one group: θ ± t·sd/√n with sd² = (Σe² − (Σe)²/n)/(n − 1) for ME and
(Σe² − (Σ|e|)²/n)/(n − 1) for MAE, t Student's quantile on n − 1 degrees of freedom at the
normal level asked for (t = Φ⁻¹ level mapped through Student's: at 95 % and n = 30, 2.045
instead of 1.960). Across groups, ``group_extremes.range_bounds``: two groups' half-widths
in quadrature are Welch's interval for a difference of two means, and its Bonferroni side
over the ordered pairs makes the bounds hold for the true max − min although the extreme
groups were picked from the data.

Hygiene as in fairness.py: a group needs max(min_group_n, min_denominator, 2) labelled rows,
else its ME and MAE are ``insufficient_data`` and it is left out (listed in ``excluded``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, stdtrit

from service.stats.aggregates import RegressionSums
from service.stats.fairness import (
    MIN_DENOMINATOR,
    MIN_GROUP_N,
    Disparity,
    FairnessReport,
    GroupRates,
    insufficient_disparity,
)
from service.stats.group_extremes import BoolArray, FloatArray, critical_values, range_bounds
from service.stats.intervals import MetricValue, Status

ErrorRate = Literal["mean_error", "mae"]
ERROR_RATES: tuple[ErrorRate, ...] = ("mean_error", "mae")
DISPARITY_OF: Mapping[ErrorRate, str] = {"mean_error": "mean_error_difference", "mae": "mae_difference"}
GROUP_METHOD = "student_t"
DISPARITY_METHOD = "welch_simultaneous"
ArrayLike = npt.ArrayLike


@dataclass(frozen=True, slots=True)
class ErrorSums:
    """A group's error sums over labelled rows; fields may be arrays (simulation)."""

    n: FloatArray
    sum_error: FloatArray
    sum_abs_error: FloatArray
    sum_sq_error: FloatArray

    @classmethod
    def of(cls, sums: RegressionSums | None) -> ErrorSums:
        """Read from a group's ``RegressionSums``; none means n = 0."""
        if sums is None:
            return cls.of_arrays(0, 0.0, 0.0, 0.0)
        return cls.of_arrays(sums.labelled, sums.sum_error, sums.sum_abs_error, sums.sum_sq_error)

    @classmethod
    def of_arrays(cls, n: ArrayLike, total: ArrayLike, absolute: ArrayLike, squares: ArrayLike) -> ErrorSums:
        def f(a: ArrayLike) -> FloatArray:
            return np.asarray(a, dtype=np.float64)

        return cls(f(n), f(total), f(absolute), f(squares))


def error_limits(sums: ErrorSums, rate: ErrorRate, z: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(estimate, low, high) of ME or MAE elementwise at the normal level of ``z`` (module doc).

    Needs n ≥ 2 where used; the normal quantile z becomes Student's at n − 1 degrees of freedom.
    """
    n = np.maximum(sums.n, 2.0)
    total = sums.sum_error if rate == "mean_error" else sums.sum_abs_error
    estimate = total / n
    variance = np.maximum(sums.sum_sq_error - total * estimate, 0.0) / (n - 1.0)
    t = stdtrit(n - 1.0, ndtr(np.asarray(z, dtype=np.float64)))
    half = t * np.sqrt(variance / n)
    return estimate, estimate - half, estimate + half


def error_bounds(
    sums: ErrorSums, use: BoolArray, rate: ErrorRate, *, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Bounds on max − min of ME or MAE over the groups in ``use`` (last axis), any leading shape."""
    z_one, z_sim = critical_values(use.sum(axis=-1), confidence=confidence)
    estimate, low_s, high_s = error_limits(sums, rate, z_sim[..., None])
    _, low_1, high_1 = error_limits(sums, rate, z_one)
    return range_bounds(estimate, (low_s, high_s), (low_1, high_1), use)


def _group(name: str, sums: RegressionSums, enough: int, confidence: float) -> GroupRates:
    errors = ErrorSums.of(sums)
    n = sums.labelled
    status: Status = "ok" if n >= enough else "insufficient_data"
    z = critical_values(2, confidence=confidence)[0]  # Φ⁻¹(1 − α/2), two-sided level 1 − α
    rates = []
    for rate in ERROR_RATES:
        if status != "ok":
            rates.append(MetricValue.insufficient(rate, n=n, method=GROUP_METHOD))
            continue
        est, low, high = (float(v) for v in error_limits(errors, rate, z))
        rates.append(MetricValue.ok(rate, value=est, n=n, interval=(low, high), method=GROUP_METHOD))
    return GroupRates(name, sums.n, n, status, tuple(rates))


def _difference(
    rate: ErrorRate, groups: Sequence[GroupRates], sums: Mapping[str, RegressionSums], confidence: float
) -> Disparity:
    """max − min of the sufficient groups' ``rate`` with the bounds of ``error_bounds``."""
    metric = DISPARITY_OF[rate]
    kept = [g for g in groups if g.status == "ok"]
    excluded = tuple(g.group for g in groups if g.status != "ok")
    total = sum(g.labelled for g in kept)
    if len(kept) < 2:
        return insufficient_disparity(metric, DISPARITY_METHOD, total, len(kept), excluded)
    ordered = sorted(kept, key=lambda g: (g.rate(rate).value or 0.0, g.group))
    hi, lo = ordered[-1], ordered[0]
    value = (hi.rate(rate).value or 0.0) - (lo.rate(rate).value or 0.0)
    parts = [ErrorSums.of(sums[g.group]) for g in kept]
    stacked = ErrorSums.of_arrays(
        [p.n for p in parts], [p.sum_error for p in parts], [p.sum_abs_error for p in parts],
        [p.sum_sq_error for p in parts],
    )  # fmt: skip
    low, high = error_bounds(stacked, np.ones(len(kept), dtype=bool), rate, confidence=confidence)
    return Disparity(
        metric,
        value,
        min(float(low), value),
        max(float(high), value),
        "ok",
        DISPARITY_METHOD,
        total,
        len(kept),
        hi.group,
        lo.group,
        excluded,
    )


def regression_fairness_report(
    *,
    attribute: str,
    groups: Mapping[str, RegressionSums],
    expected_groups: Sequence[str] = (),
    min_group_n: int = MIN_GROUP_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> FairnessReport:
    """Per-group ME and MAE, then ``mean_error_difference`` and ``mae_difference``.

    ``expected_groups`` absent from ``groups`` appear with n = 0 and ``insufficient_data``.
    Group intervals at two-sided level ``confidence``; the disparities' as in ``group_extremes``.
    """
    sums = {g: groups.get(g) or RegressionSums.empty() for g in sorted(set(groups) | set(expected_groups))}
    enough = max(min_group_n, min_denominator, 2)
    per_group = tuple(_group(g, s, enough, confidence) for g, s in sums.items())
    disparities = tuple(_difference(rate, per_group, sums, confidence) for rate in ERROR_RATES)
    return FairnessReport(attribute, per_group, disparities)
