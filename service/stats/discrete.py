"""Drift statistics of a discrete numeric column from its cells (``NumericBins.discrete``).

A discrete column's profile counts k + 2 cells: below the reference minimum, each reference
value v_0 < … < v_{k−1} (cell of v_i = [v_i, v_{i+1})), above the maximum. From them:

- **Test: Pearson chi-square contingency over the cells**, after pooling adjacent cells
  until each pooled cell's expected count is ≥ 5 in both rows. The cells are the column's
  own values, so the statistic loses nothing to binning, and the chi-square law is the
  test's law once expected counts are ≥ 5 (Cochran's rule; the pooling makes it hold for
  every cell). Pooling looks only at the column totals r_j + w_j and the row totals, which
  are fixed under the null hypothesis conditional on the margins, so it does not peek at
  the difference being tested. For a 0/1 flag the test is the two-proportion z-test (X² =
  z²). KS is not the test: its p-value assumes a continuous law, and with ties it is
  conservative: for a 0/1 flag at p = 0.3 it rejects only when z > 2.97 (√n_eff·D > 1.36
  with D = z·√(p(1 − p)/n_eff)), an actual level of 0.3 % instead of 5 %.
- **KS** D = max |F_ref − F_win| at the cell ends, reported for information; exact when the
  values lie on the grid, within ``ks_error`` otherwise (the bound of ``drift.ks_binned``,
  applied only to the out-of-range cells and to value cells holding off-grid values). Its
  p-value is not reported (``ks_p_value`` None): the continuous law does not hold here.
- **Wasserstein-1** from the value masses: between v_i and v_{i+1} the CDF difference is
  the constant d_{i+1} (cumulated over the cells up to v_i's), so W_grid = Σ |d_{i+1}|
  (v_{i+1} − v_i), plus the exact signed integrals of the below and above cells from their
  excess sums Σ(x − v_0) and Σ(x − v_{k−1}). Off-grid values x in v_i's cell satisfy
  x > v_i, so moving them to v_i moves W by at most Σ (x − v_i)/n per side, which the
  profile stores (``bin_sums`` of a discrete column are excesses over the cell's value).
  Hence W_b − e_grid ≤ W ≤ W_b + e_grid + e_out, e_out the crossing bound of the
  out-of-range cells; ``wasserstein_error`` = e_grid + e_out, 0 when every value lies on
  the grid and at most one side is out of range on each end.
"""

from __future__ import annotations

import math

import numpy as np

from service.stats.drift import (
    STD_FLOOR,
    ChiSquare,
    Counts,
    DriftStatistics,
    FloatArray,
    as_counts,
    chi2_contingency_test,
    coarse_counts,
)
from service.stats.drift_error import side_of, wasserstein_se
from service.stats.layout import IntArray, NumericBins
from service.stats.summaries import NumericSummary

MIN_EXPECTED = 5.0


def pool_cells(
    reference: Counts, window: Counts, *, min_expected: float = MIN_EXPECTED
) -> tuple[IntArray, IntArray]:
    """Adjacent cells merged left to right until each group's expected count is ≥ ``min_expected``
    in both rows: expected = row total × column total / N, smallest for the smaller row, so a
    group closes once its column total reaches min_expected × N / min(n_ref, n_win). The cells
    left over at the end join the last group."""
    r, w = np.asarray(reference, dtype=np.int64), np.asarray(window, dtype=np.int64)
    smaller = min(int(r.sum()), int(w.sum()))
    if smaller == 0:
        return r, w
    need = min_expected * float(r.sum() + w.sum()) / smaller
    ends: list[int] = []
    acc = 0
    for j, total in enumerate((r + w).tolist()):
        acc += total
        if acc >= need:
            ends.append(j + 1)
            acc = 0
    if not ends:
        return r.sum(keepdims=True), w.sum(keepdims=True)
    starts = np.asarray([0, *ends[:-1]], dtype=np.int64)
    return np.add.reduceat(r, starts), np.add.reduceat(w, starts)


def chi2_pooled(reference: Counts, window: Counts, *, min_expected: float = MIN_EXPECTED) -> ChiSquare:
    """Pearson chi-square contingency test on the pooled cells (no Yates correction)."""
    return chi2_contingency_test(*pool_cells(reference, window, min_expected=min_expected))


def _off_grid(summary: NumericSummary) -> np.ndarray:
    """Per value cell: does it hold values other than v_i? (Σ(x − v_i) > 0; all when lost)"""
    excess = np.asarray(summary.bin_sums[1:-1], dtype=np.float64)
    if summary.lost_sums:
        return np.ones(excess.size, dtype=bool)
    off: np.ndarray = excess > 0.0
    return off


def grid_ks(reference: NumericSummary, window: NumericSummary) -> tuple[float, float]:
    """(D at the cell ends, error bound): within a cell holding only v_i both CDFs are flat."""
    p = np.asarray(reference.bins, np.float64) / max(reference.count, 1)
    q = np.asarray(window.bins, np.float64) / max(window.count, 1)
    d = np.cumsum(p - q)
    statistic = float(np.max(np.abs(d)))
    start = np.concatenate([[0.0], d[:-1]])
    varies = np.concatenate([[True], _off_grid(reference) | _off_grid(window), [True]])
    inside = np.maximum(np.abs(start - q), np.abs(start + p))[varies]
    return statistic, max(float(np.max(inside, initial=statistic)) - statistic, 0.0)


def _excess(summary: NumericSummary, cells: slice | int) -> float:
    """Σ(x − anchor) / n over the given cells."""
    return float(np.sum(summary.bin_sums[cells])) / summary.count


def grid_wasserstein(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary
) -> tuple[float, float] | None:
    """(W_b, error) in column units; None when either side's sums are lost.

    Out of range: ∫ below v_0 of (F_ref − F_win) = Σ_win (x − v_0)/m − Σ_ref (x − v_0)/n, the
    same above v_{k−1}; their |·| is W's part there unless both sides have mass there.
    """
    if reference.lost_sums or window.lost_sums or not reference.count or not window.count:
        return None
    v = np.asarray(bins.edges, dtype=np.float64)
    k = v.size
    p = np.asarray(reference.bins, np.float64) / reference.count
    q = np.asarray(window.bins, np.float64) / window.count
    d = np.cumsum(p - q)
    grid = float(np.sum(np.abs(d[1:k]) * np.diff(v)))
    below = _excess(window, 0) - _excess(reference, 0)
    above = _excess(window, k + 1) - _excess(reference, k + 1)
    lo = min(x for x in (reference.minimum, window.minimum, v[0]) if x is not None)
    hi = max(x for x in (reference.maximum, window.maximum, v[-1]) if x is not None)
    crossing = 2.0 * (v[0] - lo) * min(p[0], q[0])
    low, high = d[k] - q[k + 1], d[k] + p[k + 1]
    if low < 0.0 < high:
        crossing += 2.0 * (hi - v[-1]) * min(high, -low)
    snap = _excess(reference, slice(1, k + 1)) + _excess(window, slice(1, k + 1))
    return abs(below) + grid + abs(above), crossing + snap


def grid_wasserstein_se(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary, *, effect: float, norm: float
) -> float | None:
    """se of W / norm (``drift_error.wasserstein_se``) over the cells as bins: [lo, v_0),
    [v_i, v_{i+1}), {v_{k−1}}, (v_{k−1}, hi], the CDF difference constant d_{i+1} on a gap."""
    if reference.lost_sums or window.lost_sums or not reference.count or not window.count:
        return None
    v = np.asarray(bins.edges, dtype=np.float64)
    k = v.size
    lo = min(x for x in (reference.minimum, window.minimum, v[0]) if x is not None)
    hi = max(x for x in (reference.maximum, window.maximum, v[-1]) if x is not None)
    edges = np.concatenate([[lo], v, [v[-1], hi]])
    d = np.cumsum(np.asarray(reference.bins) / reference.count - np.asarray(window.bins) / window.count)
    below = _excess(window, 0) - _excess(reference, 0)
    above = _excess(window, k + 1) - _excess(reference, k + 1)
    integrals = np.concatenate([[below], d[1:k] * np.diff(v), [0.0, above]])
    ref, win = side_of(reference, bins.anchors), side_of(window, bins.anchors)
    return wasserstein_se(edges, integrals, ref, win, effect=effect, norm=norm)


def discrete_statistics(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary
) -> DriftStatistics:
    """Every drift statistic of a discrete column from two profiles (O(cells))."""
    ref_coarse, win_coarse = coarse_counts(bins, reference.bins), coarse_counts(bins, window.bins)
    chi = chi2_pooled(reference.bins, window.bins)
    ks, ks_error = grid_ks(reference, window)
    variance = reference.variance
    std = None if variance is None else math.sqrt(variance)
    w = grid_wasserstein(bins, reference, window)
    norm = max(std or 0.0, STD_FLOOR)
    se = None if w is None else grid_wasserstein_se(bins, reference, window, effect=w[0] / norm, norm=norm)
    return DriftStatistics(
        kind="discrete",
        n_reference=reference.count,
        n_window=window.count,
        reference_counts=as_counts(ref_coarse),
        window_counts=as_counts(win_coarse),
        chi2=chi.statistic,
        chi2_p_value=chi.p_value,
        chi2_dof=chi.dof,
        ks=ks,
        ks_error=ks_error,
        wasserstein=None if w is None or std is None else w[0],
        wasserstein_norm=None if w is None or std is None else w[0] / norm,
        wasserstein_error=None if w is None or std is None else w[1] / norm,
        reference_std=std,
        effect_se=None if std is None else se,
    )


def cells_of(bins: NumericBins, values: FloatArray) -> IntArray:
    """Cell counts of raw (representable) values: what a profile's ``bins`` would hold."""
    return np.bincount(bins.index(values), minlength=bins.bins)
