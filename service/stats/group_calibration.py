"""Calibration within groups: calibration-in-the-large per group and its disparity.

A model is calibrated in the large for a group when its mean score equals the group's
observed positive rate. Per group, over the labelled rows that carry a score (n of them,
scores s in [0, 1], labels y in {0, 1}):

    CITL = s̄ − ȳ      (> 0: the model over-predicts the group's risk; unit: probability)

and across groups ``calibration_difference`` = max_g CITL_g − min_g CITL_g, a ``Disparity``
whose interval holds for the true max − min although the extremes were picked from the data
(``group_extremes``). Everything is read from the stored aggregates: from the score
histogram n = Σ positive + Σ negative, S = Σs, Y = Σy, S₁ = Σ s over positives; from
``BinaryCounts.brier_sum`` B = Σ(s − y)², whence Σs² = B − Y + 2 S₁ (y² = y).

Interval of one group (MOVER with a correlation term, Zou 2007; the square-and-add of
Newcombe's 1998 interval for paired proportions): with (l_s, u_s) = s̄ ∓ z·sd_s/√n,
(l_y, u_y) the Wilson limits of Y/n and r the sample correlation of s and y,

    L = CITL − √((s̄ − l_s)² + (u_y − ȳ)² − 2r (s̄ − l_s)(u_y − ȳ))
    U = CITL + √((u_s − s̄)² + (ȳ − l_y)² − 2r (u_s − s̄)(ȳ − l_y)).

Why not the normal interval CITL ± z √((B/n − CITL²)/n): with rare events the variance comes
from a handful of positives, and with none at all it is the score variance alone, so the
interval shrinks around s̄ and misses. Measured (``python -m
benchmarks.coverage.fairness_constructions``, scores Beta(0.6, 18), prevalence 3 %, nominal
0.95): 30 rows cover 0.65, 200 rows 0.92; the Wilson limits of ȳ keep 0.96 and 0.955. r is
set to 0 unless the group has at least ``MIN_CORRELATION_COUNT`` positives and as many
negatives: one positive with the top score gives r near 1, cancels the terms and the
interval undercovers (10 rows, prevalence 2.4 %: 0.88 with r from any count, 0.94 with the
rule; 30 rows: 0.93 and 0.96).

Hygiene as in fairness.py: a group needs max(min_group_n, min_denominator, 2) labelled
scored rows, else its CITL is ``insufficient_data`` and it is left out of the disparity
(and listed in ``excluded``); a disparity needs two groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from service.stats.fairness import MIN_DENOMINATOR, MIN_GROUP_N, Disparity, insufficient_disparity
from service.stats.group_extremes import (
    BoolArray,
    FloatArray,
    critical_values,
    range_bounds,
    wilson_limits,
)
from service.stats.intervals import MetricValue
from service.stats.outcomes import Outcomes

MIN_CORRELATION_COUNT = 5
GROUP_METHOD = "mover_wilson"
DISPARITY_METHOD = "mover_simultaneous"
ArrayLike = npt.ArrayLike


@dataclass(frozen=True, slots=True)
class CalibrationSums:
    """A group's sums over labelled scored rows (module doc); fields may be arrays (simulation)."""

    n: FloatArray
    score_sum: FloatArray
    score_sq_sum: FloatArray
    positives: FloatArray
    positive_score_sum: FloatArray

    @classmethod
    def of(cls, outcome: Outcomes | None) -> CalibrationSums:
        """Read from a group's ``Outcomes``; no scores or no binary counts means n = 0."""
        if outcome is None or outcome.scores is None or outcome.binary is None:
            return cls.of_arrays(0, 0.0, 0.0, 0, 0.0)
        h = outcome.scores
        positives, s_pos = sum(h.positive), sum(h.score_sum_positive)
        score_sq = outcome.binary.brier_sum - positives + 2.0 * s_pos
        return cls.of_arrays(
            sum(h.positive) + sum(h.negative), s_pos + sum(h.score_sum_negative), score_sq, positives, s_pos
        )

    @classmethod
    def of_arrays(
        cls,
        n: ArrayLike,
        score_sum: ArrayLike,
        score_sq_sum: ArrayLike,
        positives: ArrayLike,
        s_pos: ArrayLike,
    ) -> CalibrationSums:
        def f(a: ArrayLike) -> FloatArray:
            return np.asarray(a, dtype=np.float64)

        return cls(f(n), f(score_sum), f(score_sq_sum), f(positives), f(s_pos))


def citl_limits(
    sums: CalibrationSums, z: ArrayLike, *, min_correlation_count: int = MIN_CORRELATION_COUNT
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(CITL, L, U) elementwise at normal quantile ``z`` (module doc); needs n ≥ 2 where used.

    sd_s² = (Σs² − S²/n)/(n − 1), cov = (S₁ − S·Y/n)/(n − 1), sd_y² = (Y − Y²/n)/(n − 1);
    r = cov / (sd_s sd_y) where min(Y, n − Y) ≥ ``min_correlation_count``, else 0.
    """
    n = np.maximum(sums.n, 2.0)
    s, y = sums.score_sum / n, sums.positives / n
    var_s = np.maximum(sums.score_sq_sum - sums.score_sum * s, 0.0) / (n - 1.0)
    var_y = np.maximum(sums.positives - sums.positives * y, 0.0) / (n - 1.0)
    cov = (sums.positive_score_sum - sums.score_sum * y) / (n - 1.0)
    scale = np.sqrt(var_s * var_y)
    counted = np.minimum(sums.positives, n - sums.positives) >= min_correlation_count
    r = np.where(counted & (scale > 0.0), np.clip(cov / np.where(scale > 0.0, scale, 1.0), -1.0, 1.0), 0.0)
    half_s = np.asarray(z) * np.sqrt(var_s / n)
    low_y, high_y = wilson_limits(sums.positives, n, z)
    below, above = high_y - y, y - low_y
    low = s - y - np.sqrt(np.maximum(half_s**2 + below**2 - 2.0 * r * half_s * below, 0.0))
    high = s - y + np.sqrt(np.maximum(half_s**2 + above**2 - 2.0 * r * half_s * above, 0.0))
    return s - y, low, high


def calibration_bounds(
    sums: CalibrationSums, use: BoolArray, *, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Bounds on max − min of CITL over the groups in ``use`` (last axis), any leading shape."""
    z_one, z_sim = critical_values(use.sum(axis=-1), confidence=confidence)
    estimate, low_s, high_s = citl_limits(sums, z_sim[..., None])
    _, low_1, high_1 = citl_limits(sums, z_one)
    return range_bounds(estimate, (low_s, high_s), (low_1, high_1), use)


@dataclass(frozen=True, slots=True)
class GroupCalibration:
    """One group's calibration-in-the-large; ``n`` = its labelled rows that carry a score."""

    group: str
    n: int
    calibration_in_the_large: MetricValue


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """Per-group CITL (sorted by group name) and their max − min, ``calibration_difference``."""

    attribute: str
    groups: tuple[GroupCalibration, ...]
    disparity: Disparity

    def group(self, name: str) -> GroupCalibration:
        return next(g for g in self.groups if g.group == name)


def _group(name: str, sums: CalibrationSums, enough: int, confidence: float) -> GroupCalibration:
    n = int(sums.n)
    if n < enough:
        value = MetricValue.insufficient("calibration_in_the_large", n=n, method=GROUP_METHOD)
    else:
        z = critical_values(2, confidence=confidence)[0]  # Φ⁻¹(1 − α/2), two-sided level 1 − α
        est, low, high = (float(v) for v in citl_limits(sums, z))
        value = MetricValue.ok(
            "calibration_in_the_large", value=est, n=n, interval=(low, high), method=GROUP_METHOD
        )
    return GroupCalibration(name, n, value)


def _difference(
    groups: Sequence[GroupCalibration], sums: Sequence[CalibrationSums], confidence: float
) -> Disparity:
    """max − min of the sufficient groups' CITL with the bounds of ``calibration_bounds``."""
    kept = [(g, s) for g, s in zip(groups, sums, strict=True) if g.calibration_in_the_large.status == "ok"]
    excluded = tuple(g.group for g in groups if g.calibration_in_the_large.status != "ok")
    total = sum(g.n for g, _ in kept)
    metric = "calibration_difference"
    if len(kept) < 2:
        return insufficient_disparity(metric, DISPARITY_METHOD, total, len(kept), excluded)
    ordered = sorted(kept, key=lambda gs: (gs[0].calibration_in_the_large.value or 0.0, gs[0].group))
    (hi, _), (lo, _) = ordered[-1], ordered[0]
    value = (hi.calibration_in_the_large.value or 0.0) - (lo.calibration_in_the_large.value or 0.0)
    stacked = CalibrationSums.of_arrays(
        *([float(getattr(s, f.name)) for _, s in kept] for f in fields(CalibrationSums))
    )
    low, high = calibration_bounds(stacked, np.ones(len(kept), dtype=bool), confidence=confidence)
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


def calibration_report(
    *,
    attribute: str,
    groups: Mapping[str, Outcomes],
    expected_groups: Sequence[str] = (),
    min_group_n: int = MIN_GROUP_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> CalibrationReport:
    """Calibration-in-the-large per group and ``calibration_difference`` for one attribute.

    ``expected_groups`` absent from ``groups`` appear with n = 0 and ``insufficient_data``.
    Intervals at two-sided level ``confidence``; the disparity's as in ``group_extremes``.
    """
    names = sorted(set(groups) | set(expected_groups))
    sums = [CalibrationSums.of(groups.get(g)) for g in names]
    enough = max(min_group_n, min_denominator, 2)
    per_group = tuple(_group(g, s, enough, confidence) for g, s in zip(names, sums, strict=True))
    return CalibrationReport(attribute, per_group, _difference(per_group, sums, confidence))
