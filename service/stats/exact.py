"""Exact drift statistics on raw arrays, for windows small enough to keep their rows.

The binned statistics of ``drift.py`` approximate KS and Wasserstein within a bound; for
small windows (Evidently's rule of thumb: ≤ 1,000 rows) the raw values are cheap to keep
and these functions compute the exact values:

- KS: ``scipy.stats.ks_2samp`` (two-sided, ``method="auto"``: the exact small-sample
  distribution when both samples have ≤ 10,000 values, Smirnov's asymptotic otherwise).
- Wasserstein-1: ∫|F_ref − F_win| dx over the merged sorted sample (ECDF step functions),
  normalised by the reference population std floored at 0.001.
- Categorical: counts over every category seen in either sample (no top-K, no "other"),
  then the same PSI / JS / Hellinger / contingency chi-square as the binned path.
- PSI / JS / Hellinger of numeric columns use the layout's coarse bins, exactly as the
  binned path does (those statistics are defined on bins).
- Discrete columns (``NumericBins.discrete``): the test is the same pooled chi-square over
  the same cells as the binned path (``discrete.py``), computed from the raw values' cells,
  so both paths give the same p-value; KS and Wasserstein are exact as above.

Values that are NaN, ±inf or beyond ``MAX_MAGNITUDE`` are missing, as in profiles.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np

from service.stats.bins import usable_values
from service.stats.discrete import cells_of, chi2_pooled
from service.stats.drift import (
    STD_FLOOR,
    DriftStatistics,
    FloatArray,
    as_counts,
    chi2_contingency_test,
    coarse_counts,
)
from service.stats.layout import Labels, NumericBins, is_missing_label, nfc


def _finite(values: FloatArray) -> FloatArray:
    return usable_values(values)


def ks_exact(reference: FloatArray, window: FloatArray) -> tuple[float, float]:
    """(D, p-value) of the two-sided two-sample KS test (scipy, ``method="auto"``)."""
    with warnings.catch_warnings():
        # With many ties scipy's exact recursion can fail; it then falls back to the
        # asymptotic p-value itself and warns. The fallback is what we want.
        warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
        # Imported on first use: ~0.6 s of every process's start-up (see stats.drift).
        from scipy import stats

        result = stats.ks_2samp(_finite(reference), _finite(window))
    return float(result.statistic), float(result.pvalue)


def wasserstein_exact(reference: FloatArray, window: FloatArray) -> float:
    """W1 = Σ over gaps of the merged sorted sample of |F_ref − F_win| × gap (column units)."""
    u, v = np.sort(_finite(reference)), np.sort(_finite(window))
    merged = np.sort(np.concatenate([u, v]))
    gaps = np.diff(merged)
    f_u = np.searchsorted(u, merged[:-1], side="right") / u.size
    f_v = np.searchsorted(v, merged[:-1], side="right") / v.size
    return float(np.sum(np.abs(f_u - f_v) * gaps))


def reference_std(reference: FloatArray) -> float:
    """Population standard deviation (ddof = 0) of the finite reference values."""
    x = _finite(reference)
    return float(np.std(x)) if x.size else 0.0


def numeric_statistics_exact(bins: NumericBins, reference: FloatArray, window: FloatArray) -> DriftStatistics:
    """Exact KS and Wasserstein on raw values; PSI / JS / Hellinger on the coarse bins; for a
    discrete column also the pooled chi-square over its cells (its test)."""
    ref, win = _finite(reference), _finite(window)
    ref_cells, win_cells = cells_of(bins, ref), cells_of(bins, win)
    ref_coarse, win_coarse = coarse_counts(bins, ref_cells.tolist()), coarse_counts(bins, win_cells.tolist())
    usable = ref.size > 0 and win.size > 0
    ks, ks_p = ks_exact(ref, win) if usable else (0.0, 1.0)
    w = wasserstein_exact(ref, win) if usable else 0.0
    std = reference_std(ref)
    chi = chi2_pooled(ref_cells, win_cells) if bins.discrete else None
    return DriftStatistics(
        kind="discrete" if bins.discrete else "numeric",
        n_reference=int(ref.size),
        n_window=int(win.size),
        reference_counts=as_counts(ref_coarse),
        window_counts=as_counts(win_coarse),
        chi2=None if chi is None else chi.statistic,
        chi2_p_value=None if chi is None else chi.p_value,
        chi2_dof=None if chi is None else chi.dof,
        ks=ks,
        ks_p_value=ks_p if usable and not bins.discrete else None,
        ks_error=0.0,
        wasserstein=w,
        wasserstein_norm=w / max(std, STD_FLOOR),
        wasserstein_error=0.0,
        reference_std=std,
    )


def _present(column: Labels) -> list[Any]:
    return [nfc(v) if isinstance(v, str) else v for v in column if not is_missing_label(v)]


def category_counts(reference: Labels, window: Labels) -> tuple[list[int], list[int]]:
    """Counts of every non-missing category (None and NaN are missing) seen in either sample, in
    NFC, in sorted category order."""
    ref, win = Counter(_present(reference)), Counter(_present(window))
    keys = sorted(set(ref) | set(win))
    return [ref[k] for k in keys], [win[k] for k in keys]


def categorical_statistics_exact(reference: Labels, window: Labels) -> DriftStatistics:
    ref, win = category_counts(reference, window)
    chi = chi2_contingency_test(ref, win)
    return DriftStatistics(
        kind="categorical",
        n_reference=sum(ref),
        n_window=sum(win),
        reference_counts=as_counts(ref),
        window_counts=as_counts(win),
        chi2=chi.statistic,
        chi2_p_value=chi.p_value,
        chi2_dof=chi.dof,
    )
