"""Shared pieces of the fairness coverage scenarios: the true spread and the row builder."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from benchmarks.coverage.common import CoverageRow, summarise

GROUP_SUFFIX = " (group)"  # per-group interval rows, pooled over k by ``pool_groups``

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
TOLERANCE = 1e-12  # truths like 0.5 − 0.35 carry float rounding; bounds may hit them exactly


def draws(reps: int, k: int) -> int:
    """Samples of a scenario: 4 × ``reps`` for two groups, whose coverage sits at the nominal
    level (no slack from the simultaneous bounds: 0.943 to 0.949 for Newcombe's interval), so
    that 0.93 lies 3 Monte Carlo standard errors below it from ``reps`` = 1,000 on."""
    return 4 * reps if k == 2 else reps


def spread(truth: FloatArray, use: BoolArray) -> FloatArray:
    """True max − min over the groups in ``use`` (last axis); NaN with fewer than two."""
    top = np.max(np.where(use, truth, -np.inf), axis=-1)
    bottom = np.min(np.where(use, truth, np.inf), axis=-1)
    return np.where(use.sum(axis=-1) >= 2, top - bottom, np.nan)


def row(
    interval: str, scenario: str, nominal: float, bounds: tuple[FloatArray, FloatArray], truth: FloatArray
) -> CoverageRow:
    """Coverage of ``bounds`` for ``truth`` per sample; NaN truth or bounds = no interval served."""
    low, high = bounds
    served = np.isfinite(low) & np.isfinite(high) & np.isfinite(truth)
    hits = (low[served] <= truth[served] + TOLERANCE) & (truth[served] <= high[served] + TOLERANCE)
    widths = (high - low)[served]
    skipped = int(served.size - served.sum())
    return summarise(interval, scenario, nominal, hits.tolist(), widths.tolist(), skipped)


def pool_groups(rows: list[CoverageRow]) -> list[CoverageRow]:
    """Merge the per-group rows of scenarios that differ only in k (the per-group intervals do
    not depend on the other groups): ``reps`` and coverage add up over k = 2, 3, 6, 12.

    Wilson's coverage is 0.935 at n = 50, p = 0.5; the pooled 29 × ``reps`` samples put 0.93
    3 Monte Carlo standard errors below it from ``reps`` = 1,000 on.
    """
    pooled: dict[tuple[str, str, float], list[CoverageRow]] = {}
    kept = []
    for r in rows:
        if not r.interval.endswith(GROUP_SUFFIX):
            kept.append(r)
            continue
        scenario = r.scenario.split(" ", 1)[1]
        pooled.setdefault((r.interval, scenario, r.nominal), []).append(r)
    for (interval, scenario, nominal), parts in pooled.items():
        used = [p.reps - p.skipped for p in parts]
        total = max(sum(used), 1)
        coverage = sum(p.coverage * u for p, u in zip(parts, used, strict=True)) / total
        width = sum(p.mean_width * u for p, u in zip(parts, used, strict=True)) / total
        skipped = sum(p.skipped for p in parts)
        kept.append(
            CoverageRow(interval, f"k=all {scenario}", nominal, sum(used) + skipped, coverage, width, skipped)
        )
    return kept
