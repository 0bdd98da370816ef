"""Drift statistics from two binned profiles (reference and window) of one column.

Every statistic here reads only the bin counts, sums and extremes of the profiles, so it
costs O(bins) whatever the number of rows. Definitions (p = reference shares, q = window
shares over the same bins; natural logarithms throughout, like scipy and Evidently):

- PSI = Σ (q_i − p_i) ln(q_i / p_i) over bins non-empty on at least one side, on shares
  floored at ``PSI_EPSILON`` = 1e-4 and renormalised to sum 1 (a bin empty on one side
  would otherwise make PSI infinite).
- Jensen-Shannon distance = √JSD, JSD = ½ KL(p‖m) + ½ KL(q‖m), m = (p + q)/2, natural log:
  range [0, √ln 2 ≈ 0.833] (same as ``scipy.spatial.distance.jensenshannon`` default).
- Hellinger distance = √(1 − Σ √(p_i q_i)), range [0, 1].
- Chi-square: Pearson's two-sample *contingency* test on the 2 × k table of counts
  (reference row, window row; columns empty in both dropped), dof = k − 1, no Yates
  correction; this is ``scipy.stats.chi2_contingency(table, correction=False)``.
- KS from binned CDFs: D_b = max over bin edges of |F_ref − F_win|; p-value from
  Smirnov's distribution at n_eff = round(n m / (n + m)), as ``ks_2samp(method="asymp")``
  (Kolmogorov's limit with Stephens' correction above n_eff = 10,000, see ``ks_p_value``).
  D_b ≤ D ≤ D_b + ``ks_error`` ≤ D_b + max_i max(p_i, q_i) (docs/statistics.md).
- Wasserstein-1 from bin counts and per-bin sums (edge bins stretched to the observed
  extremes): W_b ≤ W ≤ W_b + ``wasserstein_error``, the error being non-zero only in bins
  where the two CDFs may cross. Normalised by the reference population standard
  deviation floored at 0.001 (Evidently's normalisation).

Numeric columns use the layout's fine bins (100 quantile bins) for KS and Wasserstein
and its coarse bins (deciles) for PSI, JS, Hellinger; categorical columns use the
vocabulary counts plus the "other" count. Discrete numeric columns (one cell per value)
have their own statistics in ``discrete.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from service.stats.drift_error import js_se, side_of, wasserstein_se
from service.stats.layout import NumericBins
from service.stats.summaries import CategoricalSummary, NumericSummary

FloatArray = npt.NDArray[np.float64]
Counts = Sequence[int] | npt.NDArray[np.int64]

PSI_EPSILON = 1e-4
STD_FLOOR = 0.001


def _shares(counts: Counts) -> FloatArray:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    return arr / total if total > 0 else arr


def psi(reference: Counts, window: Counts, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index (natural log) with ε-floored, renormalised shares."""
    both = (np.asarray(reference) > 0) | (np.asarray(window) > 0)  # bins empty on both sides carry nothing
    p = np.maximum(_shares(reference)[both], epsilon)
    q = np.maximum(_shares(window)[both], epsilon)
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: Counts, window: Counts) -> float:
    """Jensen-Shannon distance, natural log (0 ≤ value ≤ √ln 2 ≈ 0.833)."""
    p, q = _shares(reference), _shares(window)
    m = (p + q) / 2.0

    def kl(a: FloatArray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / m[nz])))

    return math.sqrt(max((kl(p) + kl(q)) / 2.0, 0.0))


def hellinger(reference: Counts, window: Counts) -> float:
    """Hellinger distance √(1 − Σ √(p q)) in [0, 1]."""
    bc = float(np.sum(np.sqrt(_shares(reference) * _shares(window))))
    return math.sqrt(max(1.0 - bc, 0.0))


@dataclass(frozen=True, slots=True)
class ChiSquare:
    statistic: float
    p_value: float
    dof: int


def chi2_contingency_test(reference: Counts, window: Counts) -> ChiSquare:
    """Pearson chi-square on the 2 × k contingency table (no Yates correction)."""
    table = np.vstack([np.asarray(reference, dtype=np.float64), np.asarray(window, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return ChiSquare(0.0, 1.0, max(table.shape[1] - 1, 0))
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    # chdtrc is what stats.chi2.sf evaluates, without its ~70 µs of argument checking.
    return ChiSquare(statistic, float(special.chdtrc(dof, statistic)), dof)


KS_SMIRNOV_MAX_N = 10_000


def ks_p_value(statistic: float, n_reference: int, n_window: int) -> float:
    """Two-sided p-value of a two-sample KS statistic D at n_eff = n m / (n + m).

    Up to n_eff = 10,000: Smirnov's distribution ``kstwo.sf(D, round(n_eff))``, the formula
    of ``scipy.stats.ks_2samp(..., method="asymp")``. Above: Kolmogorov's limit with
    Stephens' correction, ``kstwobign.sf((√n + 0.12 + 0.11/√n) D)``, because scipy's
    ``kstwo.sf`` costs time linear in n in the tail (1.5 s at n = 900k, D = 2/√n) and the
    evaluation must stay within milliseconds; the two agree within 1 % for p ≥ 1e-4 and
    within 5 % down to p = 1e-15 (tests/stats/test_drift_exact.py).
    """
    n_eff = n_reference * n_window / (n_reference + n_window)
    if n_eff <= KS_SMIRNOV_MAX_N:
        p = _scipy_stats().kstwo.sf(statistic, max(round(n_eff), 1))
    else:
        root = math.sqrt(n_eff)
        p = special.kolmogorov((root + 0.12 + 0.11 / root) * statistic)  # = kstwobign.sf
    return float(np.clip(p, 0.0, 1.0))


def _scipy_stats() -> Any:
    """``scipy.stats``, imported on first use: importing it costs ~0.6 s, which every process
    (``modelmon serve``, each CLI command) paid at start-up although only an evaluation needs it."""
    from scipy import stats

    return stats


def _cdf_gaps(reference: Counts, window: Counts) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Shares p, q per bin and d = F_ref − F_win just below each bin's lower edge."""
    p, q = _shares(reference), _shares(window)
    d_start = np.concatenate([[0.0], np.cumsum(p - q)[:-1]])
    return p, q, d_start


def ks_binned(reference: Counts, window: Counts) -> tuple[float, float]:
    """(D_b, error bound) with D_b = max over bin edges of |F_ref − F_win|.

    Inside bin i, F_ref rises by p_i and F_win by q_i, so F_ref − F_win stays within
    [d_i − q_i, d_i + p_i] (d_i its value below the bin): the exact D lies in
    [D_b, max_i max(|d_i − q_i|, |d_i + p_i|)], and the bound is that maximum − D_b.
    """
    p, q, d_start = _cdf_gaps(reference, window)
    if not p.size:
        return 0.0, 0.0
    statistic = float(np.max(np.abs(d_start + p - q)))
    upper = float(np.max(np.maximum(np.abs(d_start - q), np.abs(d_start + p))))
    return statistic, max(upper - statistic, 0.0)


def wasserstein_binned(
    edges: Sequence[float],
    reference: Counts,
    window: Counts,
    reference_sums: Sequence[float],
    window_sums: Sequence[float],
) -> tuple[float, float]:
    """(W_b, error bound) of W1 = ∫|F_ref − F_win| dx, from bin counts and bin sums.

    On bin [a, b] with shares p, q and value sums S_ref, S_win, ∫ F_ref dx = F_ref(a⁻)(b − a)
    + p b − S_ref / n_ref, so I_i = ∫_bin (F_ref − F_win) dx is exact and W_b = Σ|I_i| ≤ W.
    The two differ only in bins where F_ref − F_win can change sign, i.e. where
    L_i = d_i − q_i < 0 < U_i = d_i + p_i; there ∫|·| − |∫·| ≤ 2 (b − a) min(U_i, −L_i),
    whose sum is the returned bound. ``edges`` must span the observed extremes.
    """
    n_ref, n_win = float(np.sum(reference)), float(np.sum(window))
    if n_ref == 0 or n_win == 0:
        return 0.0, 0.0
    e = np.asarray(edges, dtype=np.float64)
    integral = bin_integrals(e, reference, window, reference_sums, window_sums)
    p, q, d_start = _cdf_gaps(reference, window)
    low, high = d_start - q, d_start + p
    crossing = (low < 0) & (high > 0)
    bound = np.sum(np.where(crossing, 2.0 * np.diff(e) * np.minimum(high, -low), 0.0))
    return float(np.sum(np.abs(integral))), float(bound)


def bin_integrals(
    edges: FloatArray,
    reference: Counts,
    window: Counts,
    reference_sums: Sequence[float],
    window_sums: Sequence[float],
) -> FloatArray:
    """I_i = ∫_bin (F_ref − F_win) dx per bin, exact from counts and value sums (both sides
    non-empty; ``wasserstein_binned``)."""
    p, q, d_start = _cdf_gaps(reference, window)
    n_ref, n_win = float(np.sum(reference)), float(np.sum(window))
    ref_sums, win_sums = np.asarray(reference_sums, np.float64), np.asarray(window_sums, np.float64)
    mean_part = ref_sums / n_ref - win_sums / n_win
    out: FloatArray = np.diff(edges) * d_start + (p - q) * edges[1:] - mean_part
    return out


@dataclass(frozen=True, slots=True)
class DriftStatistics:
    """The statistics of one column; fields that do not apply to its kind are None.

    ``kind``: ``numeric`` (continuous), ``discrete`` (chi-square over the value cells; no KS
    p-value) or ``categorical``. Wasserstein fields are None when a profile's sums are lost.

    ``n_reference`` / ``n_window`` count non-missing values. ``reference_counts`` /
    ``window_counts`` are the counts the shape distances read (the coarse bins of a numeric
    column, the vocabulary plus "other" of a categorical one); PSI, Jensen-Shannon and
    Hellinger are computed from them when read, O(bins), so a drift method that is not chosen
    costs nothing. ``ks_error`` and ``wasserstein_error`` bound the distance between the
    binned and the exact statistic. ``effect_se`` is the standard error of the kind's default
    effect size in its units (``wasserstein_norm`` for numeric and discrete columns,
    ``jensen_shannon`` for categorical ones; see ``drift_error.py``), None when it cannot be
    computed (e.g. lost sums).
    """

    kind: str
    n_reference: int
    n_window: int
    reference_counts: tuple[int, ...]
    window_counts: tuple[int, ...]
    chi2: float | None = None
    chi2_p_value: float | None = None
    chi2_dof: int | None = None
    ks: float | None = None
    ks_p_value: float | None = None
    ks_error: float | None = None
    wasserstein: float | None = None
    wasserstein_norm: float | None = None
    wasserstein_error: float | None = None
    reference_std: float | None = None
    effect_se: float | None = None

    @property
    def psi(self) -> float:
        return psi(self.reference_counts, self.window_counts)

    @property
    def jensen_shannon(self) -> float:
        return js_distance(self.reference_counts, self.window_counts)

    @property
    def hellinger(self) -> float:
        return hellinger(self.reference_counts, self.window_counts)


def as_counts(counts: Counts) -> tuple[int, ...]:
    """Plain ints (a frozen dataclass compares tuples, not arrays)."""
    return tuple(int(c) for c in counts)


def coarse_counts(bins: NumericBins, counts: Sequence[int]) -> npt.NDArray[np.int64]:
    """Sum fine-bin counts into the layout's coarse bins."""
    arr = np.asarray(counts, dtype=np.int64)
    return np.add.reduceat(arr, np.asarray(bins.coarse[:-1], dtype=np.int64)) if arr.size else arr


def effective_edges(bins: NumericBins, reference: NumericSummary, window: NumericSummary) -> list[float]:
    """Layout edges with the outer ones moved to the observed extremes (out-of-range mass)."""
    edges = list(bins.edges)
    lows = [v for v in (reference.minimum, window.minimum) if v is not None]
    highs = [v for v in (reference.maximum, window.maximum) if v is not None]
    edges[0] = min([edges[0], *lows])
    edges[-1] = max([edges[-1], *highs])
    return edges


def _wasserstein(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary, norm: float
) -> tuple[tuple[float, float], float | None]:
    """((W_b, error bound), se of W_b / norm) from two profiles with their sums."""
    edge_list = effective_edges(bins, reference, window)
    edges = np.asarray(edge_list, dtype=np.float64)
    w = wasserstein_binned(edge_list, reference.bins, window.bins, reference.bin_sums, window.bin_sums)
    integrals = bin_integrals(edges, reference.bins, window.bins, reference.bin_sums, window.bin_sums)
    ref, win = side_of(reference), side_of(window)
    return w, wasserstein_se(edges, integrals, ref, win, effect=w[0] / norm, norm=norm)


def numeric_statistics(
    bins: NumericBins, reference: NumericSummary, window: NumericSummary
) -> DriftStatistics:
    """The numeric drift statistics from two profiles of the same column (O(bins)).

    Wasserstein and the reference std are None when a side's sums are lost (``lost_sums``).
    Discrete bins have their own statistics (``discrete.discrete_statistics``).
    """
    if bins.discrete:
        raise ValueError(f"{bins.name}: discrete bins take discrete.discrete_statistics")
    ref_coarse, win_coarse = coarse_counts(bins, reference.bins), coarse_counts(bins, window.bins)
    ks, ks_error = ks_binned(reference.bins, window.bins)
    variance = reference.variance
    std = None if variance is None else math.sqrt(variance)
    norm = max(std or 0.0, STD_FLOOR)
    w, se = None, None
    if std is not None and not window.lost_sums and window.count:
        w, se = _wasserstein(bins, reference, window, norm)
    usable = reference.count > 0 and window.count > 0
    return DriftStatistics(
        kind="numeric",
        n_reference=reference.count,
        n_window=window.count,
        reference_counts=as_counts(ref_coarse),
        window_counts=as_counts(win_coarse),
        ks=ks,
        ks_p_value=ks_p_value(ks, reference.count, window.count) if usable else None,
        ks_error=ks_error,
        wasserstein=None if w is None else w[0],
        wasserstein_norm=None if w is None else w[0] / norm,
        wasserstein_error=None if w is None else w[1] / norm,
        reference_std=std,
        effect_se=se,
    )


def categorical_statistics(reference: CategoricalSummary, window: CategoricalSummary) -> DriftStatistics:
    """The categorical drift statistics over the vocabulary plus "other" (O(categories))."""
    chi = chi2_contingency_test(reference.counts, window.counts)
    return DriftStatistics(
        kind="categorical",
        n_reference=reference.count,
        n_window=window.count,
        reference_counts=as_counts(reference.counts),
        window_counts=as_counts(window.counts),
        chi2=chi.statistic,
        chi2_p_value=chi.p_value,
        chi2_dof=chi.dof,
        effect_se=js_se(reference.counts, window.counts),
    )
