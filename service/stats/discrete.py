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
  applied only to the out-of-range cells and to value cells holding off-grid values).
- **Wasserstein-1** from the value masses: between v_i and v_{i+1} the CDF difference is
  the constant d_{i+1} (cumulated over the cells up to v_i's), so W_grid = Σ |d_{i+1}|
  (v_{i+1} − v_i), plus the exact signed integrals of the below and above cells from their
  counts and sums (as in ``drift.wasserstein_binned``). Off-grid values x in v_i's cell
  satisfy x ≥ v_i, so moving them to v_i moves W by at most Σ (x − v_i)/n = (cell sum −
  c_i v_i)/n per side, known from the profile. Hence W_b − e_grid ≤ W ≤ W_b + e_grid +
  e_out, e_out the crossing bound of the out-of-range cells; ``wasserstein_error`` =
  e_grid + e_out, 0 when every value lies on the grid and at most one side is out of range
  on each end.
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
    chi2_contingency_test,
    coarse_counts,
    hellinger,
    js_distance,
    ks_p_value,
    psi,
)
from service.stats.layout import IntArray, NumericBins
from service.stats.summaries import NumericSummary

MIN_EXPECTED = 5.0
# A value cell holds off-grid values when its sum exceeds count × v_i by more than the
# rounding of summing count copies of v_i (≤ count × 2.2e-16 per addition: 1e-9 relative
# covers sums of up to ~4 million rows in the worst case, far more in practice).
OFF_GRID_TOLERANCE = 1e-9


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


def _off_grid(bins: NumericBins, summary: NumericSummary) -> np.ndarray:
    """Per value cell: does it hold values other than v_i? (all true when sums are lost)"""
    v = np.asarray(bins.edges, dtype=np.float64)
    if summary.lost_sums:
        return np.ones(v.size, dtype=bool)
    counts = np.asarray(summary.bins[1:-1], dtype=np.float64)
    excess = np.asarray(summary.bin_sums[1:-1], dtype=np.float64) - counts * v
    spacing = np.append(np.diff(v), 0.0)
    off: np.ndarray = excess > OFF_GRID_TOLERANCE * counts * np.maximum(np.abs(v), spacing)
    off[-1] = False  # the last value's cell holds exactly v_{k−1}: larger values are "above"
    return off


def grid_ks(bins: NumericBins, reference: NumericSummary, window: NumericSummary) -> tuple[float, float]:
    """(D at the cell ends, error bound): within a cell holding only v_i both CDFs are flat."""
    p = np.asarray(reference.bins, np.float64) / max(reference.count, 1)
    q = np.asarray(window.bins, np.float64) / max(window.count, 1)
    d = np.cumsum(p - q)
    statistic = float(np.max(np.abs(d)))
    start = np.concatenate([[0.0], d[:-1]])
    varies = np.concatenate([[True], _off_grid(bins, reference) | _off_grid(bins, window), [True]])
    inside = np.maximum(np.abs(start - q), np.abs(start + p))[varies]
    return statistic, max(float(np.max(inside, initial=statistic)) - statistic, 0.0)


def _cell(summary: NumericSummary, j: int) -> tuple[float, float]:
    """(share, mean contribution Σx / n) of cell j."""
    n = summary.count
    return summary.bins[j] / n, summary.bin_sums[j] / n


def _snap_error(bins: NumericBins, summary: NumericSummary) -> float:
    """Σ (x − v_i) / n over the in-range values: how far snapping them to the grid moves W."""
    v = np.asarray(bins.edges, dtype=np.float64)
    counts = np.asarray(summary.bins[1:-1], dtype=np.float64)
    excess = np.asarray(summary.bin_sums[1:-1], dtype=np.float64) - counts * v
    return float(np.sum(np.maximum(excess, 0.0))) / summary.count


def grid_wasserstein(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary
) -> tuple[float, float] | None:
    """(W_b, error) in column units; None when either side's sums are lost."""
    if reference.lost_sums or window.lost_sums or not reference.count or not window.count:
        return None
    v = np.asarray(bins.edges, dtype=np.float64)
    k = v.size
    p = np.asarray(reference.bins, np.float64) / reference.count
    q = np.asarray(window.bins, np.float64) / window.count
    d = np.cumsum(p - q)
    grid = float(np.sum(np.abs(d[1:k]) * np.diff(v)))
    lo = min(x for x in (reference.minimum, window.minimum, v[0]) if x is not None)
    hi = max(x for x in (reference.maximum, window.maximum, v[-1]) if x is not None)
    (p_b, s_b), (q_b, t_b) = _cell(reference, 0), _cell(window, 0)
    below = (p_b - q_b) * v[0] - (s_b - t_b)
    (p_a, s_a), (q_a, t_a) = _cell(reference, k + 1), _cell(window, k + 1)
    above = (hi - v[-1]) * d[k] + (p_a - q_a) * hi - (s_a - t_a)
    crossing = 2.0 * (v[0] - lo) * min(p_b, q_b)
    low, high = d[k] - q_a, d[k] + p_a
    if low < 0.0 < high:
        crossing += 2.0 * (hi - v[-1]) * min(high, -low)
    snap = _snap_error(bins, reference) + _snap_error(bins, window)
    return abs(below) + grid + abs(above), crossing + snap


def discrete_statistics(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary
) -> DriftStatistics:
    """Every drift statistic of a discrete column from two profiles (O(cells))."""
    ref_coarse, win_coarse = coarse_counts(bins, reference.bins), coarse_counts(bins, window.bins)
    chi = chi2_pooled(reference.bins, window.bins)
    ks, ks_error = grid_ks(bins, reference, window)
    usable = reference.count > 0 and window.count > 0
    variance = reference.variance
    std = None if variance is None else math.sqrt(variance)
    w = grid_wasserstein(bins, reference, window)
    norm = max(std or 0.0, STD_FLOOR)
    return DriftStatistics(
        kind="discrete",
        n_reference=reference.count,
        n_window=window.count,
        psi=psi(ref_coarse, win_coarse),
        jensen_shannon=js_distance(ref_coarse, win_coarse),
        hellinger=hellinger(ref_coarse, win_coarse),
        chi2=chi.statistic,
        chi2_p_value=chi.p_value,
        chi2_dof=chi.dof,
        ks=ks,
        ks_p_value=ks_p_value(ks, reference.count, window.count) if usable else None,
        ks_error=ks_error,
        wasserstein=None if w is None or std is None else w[0],
        wasserstein_norm=None if w is None or std is None else w[0] / norm,
        wasserstein_error=None if w is None or std is None else w[1] / norm,
        reference_std=std,
    )


def cells_of(bins: NumericBins, values: FloatArray) -> IntArray:
    """Cell counts of raw (representable) values: what a profile's ``bins`` would hold."""
    return np.bincount(bins.index(values), minlength=bins.bins)
