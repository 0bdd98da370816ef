"""Exact drift statistics against scipy (to 1e-9) and brute-force definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from service.stats.drift import chi2_contingency_test, hellinger, js_distance, ks_p_value, psi
from service.stats.exact import (
    categorical_statistics_exact,
    category_counts,
    ks_exact,
    numeric_statistics_exact,
    wasserstein_exact,
)
from service.stats.layout import fit_numeric

SAMPLES = [
    # (reference, window) generators: same law, mean shift, scale change, ties, tiny samples
    lambda r: (r.normal(size=300), r.normal(size=200)),
    lambda r: (r.normal(size=500), r.normal(0.3, 1.0, size=800)),
    lambda r: (r.gamma(2.0, size=1_000), r.gamma(2.0, 1.5, size=1_000)),
    lambda r: (r.integers(0, 5, 400).astype(float), r.integers(0, 6, 300).astype(float)),
    lambda r: (r.normal(size=7), r.normal(size=3)),
]


def _brute_ks(u: np.ndarray, v: np.ndarray) -> float:
    points = np.concatenate([u, v])
    f_u = (u[None, :] <= points[:, None]).mean(axis=1)
    f_v = (v[None, :] <= points[:, None]).mean(axis=1)
    return float(np.max(np.abs(f_u - f_v)))


@pytest.mark.parametrize("case", range(len(SAMPLES)))
def test_numeric_exact_matches_scipy(case: int) -> None:
    rng = np.random.default_rng(100 + case)
    u, v = SAMPLES[case](rng)
    bins = fit_numeric("x", u)
    result = numeric_statistics_exact(bins, u, v)
    scipy_ks = stats.ks_2samp(u, v)
    assert result.ks == pytest.approx(_brute_ks(u, v), abs=1e-12)
    assert result.ks == pytest.approx(scipy_ks.statistic, abs=1e-12)
    if bins.discrete:  # integers 0-4: the test is chi-square; KS's continuous law is not reported
        assert result.kind == "discrete" and result.ks_p_value is None and result.chi2_p_value is not None
    else:
        assert result.ks_p_value == pytest.approx(scipy_ks.pvalue, rel=1e-9, abs=1e-12)
    assert result.wasserstein == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-9, abs=1e-12)
    expected_norm = stats.wasserstein_distance(u, v) / max(float(np.std(u)), 0.001)
    assert result.wasserstein_norm == pytest.approx(expected_norm, rel=1e-9)
    assert result.n_reference == u.size and result.n_window == v.size


def test_missing_values_are_dropped_before_testing() -> None:
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=200), rng.normal(0.5, 1.0, 150)
    u_nan, v_nan = np.append(u, [np.nan, np.inf]), np.append(v, [np.nan])
    assert ks_exact(u_nan, v_nan) == ks_exact(u, v)
    assert wasserstein_exact(u_nan, v_nan) == wasserstein_exact(u, v)


def test_std_floor_for_constant_reference() -> None:
    result = numeric_statistics_exact(fit_numeric("c", np.full(50, 3.0)), np.full(50, 3.0), np.full(40, 3.5))
    assert result.wasserstein == pytest.approx(0.5)
    assert result.wasserstein_norm == pytest.approx(0.5 / 0.001)


def test_asymptotic_ks_p_value_matches_scipy_asymp() -> None:
    rng = np.random.default_rng(9)
    for n, m in [(2_000, 3_000), (50_000, 700), (11, 13)]:
        u, v = rng.normal(size=n), rng.normal(0.05, 1.0, m)
        asymp = stats.ks_2samp(u, v, method="asymp")
        assert ks_p_value(float(asymp.statistic), n, m) == pytest.approx(asymp.pvalue, rel=1e-9, abs=1e-15)


@pytest.mark.slow
@pytest.mark.parametrize("n_eff", [10_001, 50_000, 400_000])
@pytest.mark.parametrize("x", [0.5, 1.0, 1.36, 2.0, 3.0, 4.0])
def test_large_n_ks_p_value_is_close_to_smirnov(n_eff: int, x: float) -> None:
    """Above n_eff = 10,000 the p-value uses Kolmogorov's limit (Stephens' correction)."""
    d = x / math.sqrt(n_eff)
    smirnov = float(stats.kstwo.sf(d, n_eff))
    ours = ks_p_value(d, 2 * n_eff, 2 * n_eff)  # n m / (n + m) = n_eff
    assert ours == pytest.approx(smirnov, rel=0.01 if smirnov >= 1e-4 else 0.05)


def _counts(rng: np.random.Generator, k: int, n: int, p: np.ndarray | None = None) -> list[int]:
    return [int(c) for c in np.bincount(rng.choice(k, size=n, p=p), minlength=k)]


@pytest.mark.parametrize("seed", range(4))
def test_chi_square_is_scipy_contingency_without_correction(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    ref = _counts(rng, k, int(rng.integers(50, 2_000)))
    win = _counts(rng, k, int(rng.integers(50, 2_000)), p=rng.dirichlet(np.ones(k)))
    keep = [i for i in range(k) if ref[i] + win[i] > 0]
    table = np.array([[ref[i] for i in keep], [win[i] for i in keep]])
    expected = stats.chi2_contingency(table, correction=False)
    ours = chi2_contingency_test(ref, win)
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ours.dof == expected.dof


def test_chi_square_drops_columns_empty_in_both_and_degenerate_tables() -> None:
    assert chi2_contingency_test([5, 0, 5], [3, 0, 7]) == chi2_contingency_test([5, 5], [3, 7])
    single = chi2_contingency_test([5, 0], [7, 0])
    assert single.p_value == 1.0 and single.statistic == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_distances_match_scipy_and_definitions(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    k = 6
    ref, win = _counts(rng, k, 500), _counts(rng, k, 300, p=rng.dirichlet(np.ones(k)))
    ref, win = [c + 1 for c in ref], [c + 1 for c in win]  # no empty bin: PSI's floor is tested apart
    p, q = np.array(ref) / sum(ref), np.array(win) / sum(win)
    assert js_distance(ref, win) == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)
    # Hellinger written the other way: ‖√p − √q‖₂ / √2.
    other_way = np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / math.sqrt(2)
    assert hellinger(ref, win) == pytest.approx(other_way, rel=1e-9)
    assert psi(ref, win) == pytest.approx(
        sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True)), rel=1e-9
    )


def test_psi_with_empty_bins_floors_and_renormalises() -> None:
    ref, win = [100, 0, 100], [50, 50, 100]
    p = np.array([0.5, 1e-4, 0.5])
    q = np.array([0.25, 0.25, 0.5])
    p /= p.sum()
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi(ref, win) == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(psi([1, 0], [0, 1]))


def test_js_distance_range_uses_natural_log() -> None:
    assert js_distance([10, 0], [0, 10]) == pytest.approx(math.sqrt(math.log(2)), rel=1e-12)  # ≈ 0.833
    assert js_distance([3, 4], [6, 8]) == pytest.approx(0.0, abs=1e-12)


def test_exact_categorical_counts_every_category() -> None:
    ref = ["a", "b", "b", None, "c"]
    win = ["b", "d", "d", None]
    assert category_counts(ref, win) == ([1, 2, 1, 0], [0, 1, 0, 2])
    result = categorical_statistics_exact(ref, win)
    table = np.array([[1, 2, 1, 0], [0, 1, 0, 2]])
    assert result.chi2 == pytest.approx(stats.chi2_contingency(table, correction=False).statistic, rel=1e-9)
    assert result.n_reference == 4 and result.n_window == 3
