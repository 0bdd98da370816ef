"""Discrete numeric columns: one cell per value, the pooled chi-square test, grid Wasserstein.

The decision rule is checked by simulation (``discrete_simulation.py``): false alarms on
quiet data at most α, the shifts the quantile bins missed detected at modest n. The
statistics are checked against the raw-array path (scipy) and its bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from service.stats.discrete import chi2_pooled, discrete_statistics, pool_cells
from service.stats.drift import DriftStatistics, numeric_statistics
from service.stats.exact import numeric_statistics_exact
from service.stats.layout import Batch, NumericBins, fit_layout, fit_numeric
from service.stats.profile import build_profile
from service.stats.summaries import summarize_numeric
from service.stats.verdict import DriftReport, evaluate_drift
from tests.stats.discrete_simulation import ALPHA, QUIET, SHIFTED, Scenario, rates

QUIET_FAST = [s for s in QUIET if s.n_reference <= 10_000]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", QUIET_FAST, ids=[s.name for s in QUIET_FAST])
def test_false_alarm_rate_on_quiet_data_is_at_most_alpha(scenario: Scenario) -> None:
    reps = 400
    result = rates(scenario, reps, seed=QUIET.index(scenario), with_ks=False)
    rejections = round(result.test * reps)
    # One-sided binomial test of "rate ≤ α": fails when the rate is clearly above α.
    assert stats.binom.sf(rejections - 1, reps, ALPHA) > 1e-3, result
    assert result.drift <= result.test


@pytest.mark.slow
def test_chi_square_holds_its_level_where_ks_is_conservative() -> None:
    """0/1 flag at 30 %: KS's continuous law rejects only when z > 2.97, a level ≈ 0.3 %."""
    reps = 400
    result = rates(QUIET[0], reps, seed=7, with_ks=True)
    assert result.ks < 0.02
    assert stats.binom.cdf(round(result.test * reps), reps, ALPHA) > 1e-3  # not far below α either


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SHIFTED, ids=[s.name for s in SHIFTED])
def test_listed_shifts_are_detected(scenario: Scenario) -> None:
    result = rates(scenario, 100, seed=50 + SHIFTED.index(scenario), with_ks=False)
    assert result.drift >= 0.95, result


def _one_column(ref: np.ndarray, win: np.ndarray, *, raw: bool = False) -> DriftReport:
    ref_batch, win_batch = Batch(rows=ref.size, numeric={"x": ref}), Batch(rows=win.size, numeric={"x": win})
    layout = fit_layout(task="regression", reference=ref_batch)
    return evaluate_drift(
        layout=layout,
        reference=build_profile(layout, ref_batch),
        window=build_profile(layout, win_batch),
        reference_sample=ref_batch if raw else None,
        window_sample=win_batch if raw else None,
    )


def test_flag_moving_from_30_to_40_percent_at_2000_rows_is_drift() -> None:
    rng = np.random.default_rng(1)
    ref, win = (rng.random(2_000) < 0.3).astype(float), (rng.random(2_000) < 0.4).astype(float)
    (result,) = _one_column(ref, win).features
    assert result.discrete and (result.test, result.effect) == ("chi2", "wasserstein_norm")
    assert (result.status, result.reason) == ("drift", "drift")
    assert result.effect_size is not None and result.effect_size > 0.15  # W = 0.1 over std ≈ 0.46
    # The test is the two-proportion z-test: X² = z².
    p1, p2 = ref.mean(), win.mean()
    pooled = (ref.sum() + win.sum()) / 4_000
    z = (p2 - p1) / np.sqrt(pooled * (1 - pooled) * (2 / 2_000))
    assert result.statistics is not None and result.statistics.chi2 == pytest.approx(z * z, rel=1e-9)


def test_constant_reference_that_changes_is_drift() -> None:
    ref = np.full(1_000, 5.0)
    changed = np.where(np.arange(500) < 150, 6.0, 5.0)
    (result,) = _one_column(ref, changed).features
    assert (result.status, result.reason) == ("drift", "drift")
    assert result.effect_size == pytest.approx(0.3 / 0.001)  # W = 0.3, std floored at 0.001
    (same,) = _one_column(ref, np.full(500, 5.0)).features
    assert (same.status, same.reason) == ("ok", "not_significant")
    assert same.effect_size == 0.0


def test_quantile_bins_hid_a_move_between_the_top_two_values() -> None:
    """What the layout used to be for an integer 0–4 column: quantile edges on the values and
    a closed last bin, so 3 and 4 shared a bin and KS saw nothing; the discrete cells see it."""
    rng = np.random.default_rng(3)
    ref = rng.choice(5, 2_000, p=[0.1, 0.2, 0.3, 0.3, 0.1]).astype(float)
    win = rng.choice(5, 1_000, p=[0.1, 0.2, 0.3, 0.15, 0.25]).astype(float)
    old = NumericBins("x", (0.0, 1.0, 2.0, 3.0, 4.0), (0, 4), 2.0)
    before = numeric_statistics(
        old, summarize_numeric(old, ref, rows=2_000), summarize_numeric(old, win, rows=1_000)
    )
    assert (
        before.ks == pytest.approx(0.0, abs=0.05)
        and before.ks_p_value is not None
        and before.ks_p_value > 0.05
    )
    (result,) = _one_column(ref, win).features
    assert result.status == "drift" and result.p_value is not None and result.p_value < 1e-10


def _pair(bins: NumericBins, u: np.ndarray, v: np.ndarray) -> tuple[DriftStatistics, DriftStatistics]:
    ref, win = summarize_numeric(bins, u, rows=u.size), summarize_numeric(bins, v, rows=v.size)
    return discrete_statistics(bins, ref, win), numeric_statistics_exact(bins, u, v)


def test_binned_equals_exact_on_the_grid() -> None:
    """Window on the reference's values plus some above its range: KS and W exact, same test."""
    rng = np.random.default_rng(4)
    u = rng.choice([-2.0, 0.5, 1.0, 7.0], 3_000, p=[0.2, 0.3, 0.4, 0.1])
    v = np.concatenate([rng.choice([-2.0, 0.5, 1.0, 7.0], 900, p=[0.1, 0.3, 0.4, 0.2]), np.full(100, 9.5)])
    bins = fit_numeric("x", u)
    binned, exact = _pair(bins, u, v)
    assert bins.discrete and binned.kind == exact.kind == "discrete"
    for name in ("chi2", "chi2_p_value", "chi2_dof", "psi", "jensen_shannon", "hellinger"):
        assert getattr(binned, name) == pytest.approx(getattr(exact, name), rel=1e-12), name
    assert binned.ks == pytest.approx(stats.ks_2samp(u, v).statistic, abs=1e-12)
    assert binned.wasserstein == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-9)
    assert binned.ks_error == 0.0 and binned.wasserstein_error == pytest.approx(0.0, abs=1e-12)


grid = st.sampled_from([0.0, 1.0, 2.5, 4.0])
anywhere = st.one_of(grid, grid, st.floats(-3.0, 7.0, allow_nan=False))


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(u=st.lists(anywhere, min_size=1, max_size=50), v=st.lists(anywhere, min_size=1, max_size=50))
def test_bounds_hold_off_the_grid_and_out_of_range(u: list[float], v: list[float]) -> None:
    """Layout fitted on grid values; both samples may hold off-grid and out-of-range values
    (a trailing reference profiled on another sample's layout)."""
    bins = fit_numeric("x", np.repeat([0.0, 1.0, 2.5, 4.0], 50))
    a, b = np.array(u), np.array(v)
    binned, exact = _pair(bins, a, b)
    w, w_exact, w_error = binned.wasserstein, exact.wasserstein, binned.wasserstein_error
    assert w is not None and w_exact is not None and w_error is not None
    norm = max(float(np.std(a)), 0.001)  # the error is reported in reference std units
    slack = 1e-9 * max(1.0, w_exact)
    assert abs(w_exact - w) <= w_error * norm + slack
    assert binned.ks is not None and exact.ks is not None and binned.ks_error is not None
    assert binned.ks <= exact.ks + 1e-12 <= binned.ks + binned.ks_error + 2e-12
    assert binned.chi2 == pytest.approx(exact.chi2, rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    r=st.lists(st.integers(0, 40), min_size=2, max_size=12),
    w=st.lists(st.integers(0, 40), min_size=2, max_size=12),
)
def test_pooled_cells_have_expected_counts_of_five_and_scipy_agrees(r: list[int], w: list[int]) -> None:
    size = min(len(r), len(w))
    ref, win = np.array(r[:size]), np.array(w[:size])
    pooled_r, pooled_w = pool_cells(ref, win)
    assert pooled_r.sum() == ref.sum() and pooled_w.sum() == win.sum()
    result = chi2_pooled(ref, win)
    table = np.vstack([pooled_r, pooled_w])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or 0 in table.sum(axis=1):
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        return
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    assert expected.min() >= 5.0 - 1e-9
    scipy_result = stats.chi2_contingency(table, correction=False)
    assert result.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9, abs=1e-300)


def test_small_windows_with_raw_rows_agree_with_profiles() -> None:
    rng = np.random.default_rng(6)
    ref = rng.poisson(2.0, 3_000).astype(float)
    win = rng.poisson(2.4, 400).astype(float)
    exact = _one_column(ref, win, raw=True).features[0]
    binned = _one_column(ref, win).features[0]
    assert exact.exact and not binned.exact and exact.discrete and binned.discrete
    assert exact.p_value == pytest.approx(binned.p_value, rel=1e-12)
    assert exact.effect_size == pytest.approx(binned.effect_size, rel=1e-9)
    assert exact.status == binned.status == "drift"


def test_score_and_prediction_columns_use_discrete_cells_too() -> None:
    """A tree model with few leaves emits few distinct scores: its score column is discrete."""
    rng = np.random.default_rng(8)
    leaves = np.array([0.05, 0.2, 0.35, 0.6, 0.9])
    scores = rng.choice(leaves, 2_000)
    labels = np.where(rng.random(2_000) < scores, "yes", "no").astype(object)
    layout = fit_layout(
        task="binary_classification",
        reference=Batch(rows=2_000, scores=scores, labels=labels),
        positive_label="yes",
    )
    assert layout.score is not None and layout.score.discrete and layout.score.edges == tuple(leaves)
