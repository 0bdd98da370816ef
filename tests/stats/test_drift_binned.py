"""Binned drift statistics (from profiles) against the exact ones (raw arrays).

The tolerances are the bounds derived in docs/statistics.md, reported by the binned
functions themselves: D_b ≤ D ≤ D_b + ks_error (≤ D_b + max_i max(p_i, q_i)) for KS and
W_b ≤ W ≤ W_b + wasserstein_error for Wasserstein; the tests check the exact values
(scipy) fall inside them, and that the bounds are small on continuous data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from service.stats.discrete import discrete_statistics
from service.stats.drift import (
    DriftStatistics,
    categorical_statistics,
    chi2_contingency_test,
    numeric_statistics,
)
from service.stats.exact import categorical_statistics_exact, numeric_statistics_exact
from service.stats.layout import Batch, NumericBins, fit_layout, fit_numeric
from service.stats.profile import summarize_categorical, summarize_numeric

PAIRS = {
    "same_law": lambda r: (r.normal(size=5_000), r.normal(size=4_000)),
    "mean_shift": lambda r: (r.normal(size=5_000), r.normal(0.4, 1.0, 3_000)),
    "scale": lambda r: (r.lognormal(0.0, 1.0, 5_000), r.lognormal(0.0, 1.6, 3_000)),
    "out_of_range": lambda r: (r.uniform(0.0, 1.0, 5_000), r.uniform(0.5, 3.0, 2_000)),
    "heavy_tail": lambda r: (r.standard_t(2.0, 5_000), r.standard_t(2.0, 5_000) + 0.2),
}


def _both(bins: NumericBins, u: np.ndarray, v: np.ndarray) -> tuple[DriftStatistics, DriftStatistics]:
    ref, win = summarize_numeric(bins, u, rows=u.size), summarize_numeric(bins, v, rows=v.size)
    binned = discrete_statistics(bins, ref, win) if bins.discrete else numeric_statistics(bins, ref, win)
    return binned, numeric_statistics_exact(bins, u, v)


def _assert_within_bounds(binned: DriftStatistics, exact: DriftStatistics) -> None:
    """Continuous: W_b ≤ W ≤ W_b + error. Discrete: |W − W_b| ≤ error (snapping off-grid
    values to the grid can move W either way; docs/statistics.md)."""
    assert binned.ks is not None and exact.ks is not None and binned.ks_error is not None
    assert binned.ks <= exact.ks + 1e-12
    assert exact.ks <= binned.ks + binned.ks_error + 1e-12
    assert binned.wasserstein_norm is not None and exact.wasserstein_norm is not None
    assert binned.wasserstein_error is not None
    slack = 1e-9 * max(1.0, exact.wasserstein_norm)  # float rounding of the bin sums
    below = binned.wasserstein_error if binned.kind == "discrete" else 0.0
    assert binned.wasserstein_norm <= exact.wasserstein_norm + below + slack
    assert exact.wasserstein_norm <= binned.wasserstein_norm + binned.wasserstein_error + slack


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_binned_ks_and_wasserstein_within_derived_bounds(name: str) -> None:
    rng = np.random.default_rng(sorted(PAIRS).index(name))
    u, v = PAIRS[name](rng)
    binned, exact = _both(fit_numeric("x", u), u, v)
    _assert_within_bounds(binned, exact)
    # PSI / JS / Hellinger are defined on the coarse bins: both paths agree exactly.
    assert binned.psi == pytest.approx(exact.psi, rel=1e-12)
    assert binned.jensen_shannon == pytest.approx(exact.jensen_shannon, rel=1e-12)
    assert binned.hellinger == pytest.approx(exact.hellinger, rel=1e-12)
    assert binned.reference_std == pytest.approx(np.std(u), rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_binned_values_are_close_on_continuous_data(name: str) -> None:
    """100 quantile bins on 5,000 reference values hold 1 % of the reference each, so the KS
    bound is ≈ 0.01; the binned Wasserstein (bin sums) is within 0.02 reference std of the
    exact one, although its worst-case bound is loose where the CDFs cross in wide tail bins."""
    rng = np.random.default_rng(40 + sorted(PAIRS).index(name))
    u, v = PAIRS[name](rng)
    binned, exact = _both(fit_numeric("x", u), u, v)
    assert binned.ks_error is not None and binned.ks_error <= 0.0101
    assert binned.wasserstein_norm is not None and exact.wasserstein_norm is not None
    assert abs(binned.wasserstein_norm - exact.wasserstein_norm) <= 0.02


def test_binned_ks_is_exact_when_values_sit_on_edges() -> None:
    rng = np.random.default_rng(3)
    u, v = rng.integers(0, 8, 2_000).astype(float), rng.integers(1, 8, 1_500).astype(float)
    binned, exact = _both(fit_numeric("k", u), u, v)
    assert binned.ks == pytest.approx(exact.ks, abs=1e-12)


def test_binned_ks_p_value_is_conservative() -> None:
    rng = np.random.default_rng(4)
    u, v = rng.normal(size=20_000), rng.normal(0.03, 1.0, 20_000)
    binned, _ = _both(fit_numeric("x", u), u, v)
    asymp = stats.ks_2samp(u, v, method="asymp")
    assert binned.ks_p_value is not None and binned.ks_p_value >= asymp.pvalue  # D_b ≤ D


values = st.lists(st.one_of(st.floats(-50, 50), st.sampled_from([0.0, 1.0, 2.0])), min_size=1, max_size=60)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(u=values, v=values, fit=st.one_of(st.none(), values), bins=st.sampled_from([10, 20, 100]))
def test_bounds_hold_for_any_samples(
    u: list[float], v: list[float], fit: list[float] | None, bins: int
) -> None:
    """Ties, tiny samples, out-of-range windows, layouts fitted on a third sample."""
    a, b = np.array(u), np.array(v)
    layout_bins = fit_numeric("x", np.array(fit if fit is not None else u), bins=bins, coarse_bins=10)
    binned, exact = _both(layout_bins, a, b)
    _assert_within_bounds(binned, exact)


def test_categorical_from_profile_equals_exact_when_vocabulary_is_complete() -> None:
    rng = np.random.default_rng(6)
    levels = np.array(["a", "b", "c", "d"], dtype=object)
    ref = list(rng.choice(levels, 3_000, p=[0.4, 0.3, 0.2, 0.1]))
    win = list(rng.choice(levels, 1_000, p=[0.3, 0.3, 0.2, 0.2]))
    layout = fit_layout(task="regression", reference=Batch(rows=3_000, categorical={"c": ref}))
    vocab = layout.categorical[0]
    binned = categorical_statistics(
        summarize_categorical(vocab, ref, rows=3_000), summarize_categorical(vocab, win, rows=1_000)
    )
    exact = categorical_statistics_exact(ref, win)
    for field in ("psi", "jensen_shannon", "hellinger", "chi2", "chi2_p_value"):
        assert getattr(binned, field) == pytest.approx(getattr(exact, field), rel=1e-9), field
    assert binned.chi2_dof == exact.chi2_dof == 3


def test_categorical_other_bucket_pools_rare_and_unseen_values() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    win = ["a"] * 40 + ["b"] * 20 + ["c"] * 10 + ["new"] * 30
    layout = fit_layout(task="regression", reference=Batch(rows=100, categorical={"c": ref}), top_k=2)
    vocab = layout.categorical[0]
    binned = categorical_statistics(
        summarize_categorical(vocab, ref, rows=100), summarize_categorical(vocab, win, rows=100)
    )
    pooled = chi2_contingency_test([50, 30, 20], [40, 20, 40])  # a, b, other = c + new
    assert binned.chi2 == pytest.approx(pooled.statistic, rel=1e-12)
    assert binned.chi2_dof == 2
