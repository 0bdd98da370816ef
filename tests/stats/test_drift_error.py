"""Standard errors of the drift effect sizes (``drift_error.py``): formulas and simulation.

The formula tests compare the binned standard errors with independent computations (the
two-proportion case by hand, the influence function on raw values, the spread of JS over
multinomial draws). The simulation tests re-run scenarios of benchmarks/coverage/drift.py
with 400 draws: a one-sided 97.5 % limit's coverage then has a Monte Carlo SE of 0.008, so
0.95 lies 3 SE below the nominal level; at 0.9995 the floor is 0.99.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchmarks.coverage.common import CoverageRow
from benchmarks.coverage.drift import Pair, coverage_pairs, coverage_rows, quiet_laws, quiet_rows
from service.stats.discrete import discrete_statistics
from service.stats.drift import (
    DriftStatistics,
    bin_integrals,
    categorical_statistics,
    effective_edges,
    js_distance,
    numeric_statistics,
)
from service.stats.drift_error import Z_REFERENCE, influence_se, js_se, jsd_linear, noise_bias, side_of
from service.stats.layout import Batch, fit_layout, fit_numeric
from service.stats.profile import build_profile, summarize_categorical, summarize_numeric
from service.stats.verdict import evaluate_drift

REPS = 400


def _continuous(u: np.ndarray, v: np.ndarray) -> tuple[DriftStatistics, float, float]:
    """(statistics, linear se, noise bias bound / σ) of a continuous column through profiles."""
    bins = fit_numeric("x", u)
    assert not bins.discrete
    ref, win = summarize_numeric(bins, u, rows=u.size), summarize_numeric(bins, v, rows=v.size)
    result = numeric_statistics(bins, ref, win)
    edges = np.asarray(effective_edges(bins, ref, win))
    ref_side, win_side = side_of(ref), side_of(win)
    assert result.wasserstein_norm is not None and result.reference_std is not None
    assert ref_side is not None and win_side is not None
    integrals = bin_integrals(edges, ref.bins, win.bins, ref.bin_sums, win.bin_sums)
    norm = result.reference_std
    linear = influence_se(edges, integrals, ref_side, win_side, effect=result.wasserstein_norm, norm=norm)
    return result, linear, noise_bias(edges, ref_side, win_side) / norm


def test_flag_se_is_the_two_proportion_formula_with_the_std_term() -> None:
    ref = np.repeat([0.0, 1.0], [1400, 600])  # p = 0.3
    win = np.repeat([0.0, 1.0], [240, 160])  # q = 0.4
    bins = fit_numeric("flag", ref)
    assert bins.discrete
    result = discrete_statistics(
        bins, summarize_numeric(bins, ref, rows=ref.size), summarize_numeric(bins, win, rows=win.size)
    )
    p, q, n, m = 0.3, 0.4, 2000, 400
    sigma = math.sqrt(p * (1 - p))
    e = (q - p) / sigma
    # W = ∫_0^1 |F_ref − F_win| = |q − p|, s = sign(F_ref − F_win) = +1 on [0, 1): h(0) = 1, h(1) = 0
    a0, a1 = 1 / sigma - e * p**2 / (2 * sigma**2), -e * (1 - p) ** 2 / (2 * sigma**2)
    linear = math.sqrt(p * (1 - p) * (a1 - a0) ** 2 / n + q * (1 - q) / (sigma**2 * m))
    bias = math.sqrt(2 / math.pi) * math.sqrt(p * (1 - p) / n + q * (1 - q) / m) / sigma
    assert result.wasserstein_norm == pytest.approx(e, rel=1e-12)
    assert result.effect_se == pytest.approx(linear + bias / Z_REFERENCE, rel=1e-9)


def _raw_influence_se(u: np.ndarray, v: np.ndarray) -> float:
    """The influence-function se of W/σ on raw values: exact ECDFs, s and h on the merged grid."""
    grid = np.sort(np.concatenate([u, v]))
    f = np.searchsorted(np.sort(u), grid[:-1], side="right") / u.size
    g = np.searchsorted(np.sort(v), grid[:-1], side="right") / v.size
    gaps = np.diff(grid)
    signed = np.sign(f - g) * gaps
    tail = np.concatenate([np.cumsum(signed[::-1])[::-1], [0.0]])  # h at each grid point

    def h(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = tail[np.searchsorted(grid, x, side="left")]
        return out

    sigma, mu = float(np.std(u)), float(np.mean(u))
    e = float(np.sum(np.abs(f - g) * gaps)) / sigma
    a = h(u) / sigma - e * (u - mu) ** 2 / (2 * sigma**2)
    return math.sqrt(np.var(a) / u.size + np.var(h(v)) / (sigma**2 * v.size))


@pytest.mark.parametrize(
    "draw",
    [
        lambda r: (r.normal(size=20_000), r.normal(0.3, 1.0, 5_000)),
        lambda r: (r.normal(size=20_000), r.normal(0.0, 1.4, 5_000)),
        lambda r: (r.lognormal(0.0, 0.5, 20_000), r.lognormal(0.15, 0.5, 5_000)),
    ],
    ids=["shift", "scale", "lognormal"],
)
def test_binned_influence_se_is_close_to_the_raw_one(draw: object) -> None:
    rng = np.random.default_rng(11)
    u, v = draw(rng)  # type: ignore[operator]
    _, binned, _ = _continuous(u, v)
    raw = _raw_influence_se(u, v)
    # the binned one is conservative (within-bin spread at its largest) and close: ≤ 10 % above
    assert raw * 0.99 <= binned <= raw * 1.10


@pytest.mark.slow
def test_noise_bias_bounds_the_mean_effect_under_no_change() -> None:
    rng = np.random.default_rng(12)
    draws = [_continuous(rng.normal(size=2_000), rng.normal(size=500)) for _ in range(200)]
    effects = [result.wasserstein_norm or 0.0 for result, _, _ in draws]
    bounds = [bias for _, _, bias in draws]
    # theory: E ê = √(2/π) ∫ √v / σ exactly when D = 0 (1.29 √(1/n + 1/m) for a normal law)
    assert np.mean(bounds) == pytest.approx(1.29 * math.sqrt(1 / 2_000 + 1 / 500), rel=0.05)
    assert 0.85 * np.mean(bounds) <= np.mean(effects) <= 1.05 * np.mean(bounds)


def test_js_se_matches_the_spread_of_js_at_large_n() -> None:
    p = np.asarray([0.25, 0.2, 0.12, 0.1, 0.1, 0.08, 0.1, 0.05])
    q = 0.7 * p + 0.3 * np.eye(8)[7]
    rng = np.random.default_rng(13)
    a, b = rng.multinomial(20_000, p, size=REPS), rng.multinomial(5_000, q, size=REPS)
    js = np.asarray([js_distance(x, y) for x, y in zip(a, b, strict=True)])
    se = np.asarray([js_se(x, y) for x, y in zip(a, b, strict=True)], dtype=np.float64)
    linear = [jsd_linear(x.astype(float), y.astype(float)) for x, y in zip(a, b, strict=True)]
    delta = np.asarray([spread / (2 * math.sqrt(jsd)) for jsd, spread in linear])
    # the delta method on the JS scale, se(JSD)/(2 JS), is the spread of JS at this size
    assert np.std(js) * 0.9 <= np.mean(delta) <= np.std(js) * 1.1
    # effect_se adds the bias allowance and the curvature of √ at z₀: larger, not far
    assert np.all(se >= delta) and np.mean(se) <= 1.3 * np.mean(delta)


def test_js_se_is_zero_width_free_and_none_without_rows() -> None:
    assert js_se([10, 0], [0, 0]) is None
    same = js_se([50, 50], [50, 50])
    assert same is not None and same == pytest.approx(0.0)  # JSD̂ = 0: L = 0 = JŜ


def test_effect_se_reaches_the_verdict_and_is_none_when_insufficient() -> None:
    rng = np.random.default_rng(14)
    ref = Batch(rows=500, numeric={"x": rng.normal(size=500)}, categorical={"c": rng.choice(["a", "b"], 500)})
    layout = fit_layout(task="regression", reference=ref)
    win = Batch(rows=20, numeric={"x": rng.normal(size=20)}, categorical={"c": rng.choice(["a", "b"], 20)})
    small = evaluate_drift(
        layout=layout, reference=build_profile(layout, ref), window=build_profile(layout, win)
    )
    assert [f.effect_se for f in small.features] == [None, None]
    win = Batch(rows=300, numeric={"x": rng.normal(size=300)}, categorical={"c": rng.choice(["a", "b"], 300)})
    profiles = build_profile(layout, ref), build_profile(layout, win)
    report = evaluate_drift(layout=layout, reference=profiles[0], window=profiles[1])
    exact = evaluate_drift(
        layout=layout, reference=profiles[0], window=profiles[1], reference_sample=ref, window_sample=win
    )
    for binned, raw in zip(report.features, exact.features, strict=True):
        assert binned.statistics is not None and binned.effect_se == binned.statistics.effect_se
        assert binned.effect_se is not None and binned.effect_se > 0
        assert raw.exact and raw.effect_se == binned.effect_se  # from the same rows' profiles
    counts = summarize_categorical(layout.categorical[0], win.categorical["c"], rows=300)
    assert categorical_statistics(counts, counts).effect_se == pytest.approx(0.0)


def _check(rows: list[CoverageRow], floor: dict[float, float]) -> None:
    assert rows
    for row in rows:
        assert row.skipped == 0, row
        assert row.coverage >= floor[row.nominal], row


FLOORS = {0.975: 0.95, 0.9995: 0.99}


def _pairs(*names: str) -> list[Pair]:
    chosen = [p for p in coverage_pairs() if p.name in names]
    assert len(chosen) == len(names)
    return chosen


@pytest.mark.slow
def test_lower_limit_covers_near_the_threshold_at_small_sizes() -> None:
    pairs = _pairs("normal shift 0.1σ", "flag 0.3 -> 0.4", "8 levels, JS 0.1")
    _check(coverage_rows(REPS, 201, pairs, ((200, 200),)), FLOORS)


@pytest.mark.slow
def test_lower_limit_covers_at_larger_sizes() -> None:
    # 5,000-row references keep the test fast; the benchmark table has 20,000
    _check(coverage_rows(REPS, 202, _pairs("normal shift 0.2σ"), ((5_000, 5_000),)), FLOORS)
    pairs = _pairs("normal scale x1.25", "lognormal(0, 0.5) log-shift 0.1", "8 levels, JS 0.2")
    _check(coverage_rows(REPS, 203, pairs, ((2_000, 5_000),)), FLOORS)


@pytest.mark.slow
def test_quiet_columns_rarely_reach_the_threshold() -> None:
    # every law at 200 / 200 (the noisiest size) and at 200 / 2,000: at most 1 draw in 300
    # with L ≥ 0.1 (the goal is ≤ 1 in 1,000; with a true rate of 0.001, 2 or more in 300
    # happens 3.7 % of the time)
    rows = quiet_rows(300, 204, quiet_laws(), ((200, 200), (200, 2_000)))
    assert len(rows) == 18
    for row in rows:
        assert row.rate * row.reps <= 1, row


@pytest.mark.slow
def test_the_linear_se_alone_would_let_noise_through() -> None:
    # the reason for the bias allowance: without it, quiet 200 / 200 t₃ columns reach L ≥ 0.1
    rng = np.random.default_rng(206)
    hits = 0
    for _ in range(300):
        result, linear, _ = _continuous(rng.standard_t(3.0, 200), rng.standard_t(3.0, 200))
        assert result.wasserstein_norm is not None
        hits += result.wasserstein_norm - Z_REFERENCE * linear >= 0.1
    assert stats.binomtest(hits, 300, 0.001, alternative="greater").pvalue < 0.01
