"""The drift decision: significance AND effect size, minimum n, BH across columns, exact path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from scipy import stats

from service.stats.exact import numeric_statistics_exact
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import build_profile
from service.stats.verdict import DriftConfig, DriftReport, evaluate_drift

if TYPE_CHECKING:
    from tests.stats.conftest import CreditData

SHIFTED = {"income", "debt_to_income", "utilization", "purpose"}


def _report(layout: Layout, ref: Batch, win: Batch, **kwargs: Any) -> DriftReport:
    reference, window = build_profile(layout, ref), build_profile(layout, win)
    return evaluate_drift(layout=layout, reference=reference, window=window, **kwargs)


def _one_feature(ref: np.ndarray, win: np.ndarray) -> tuple[Layout, Batch, Batch]:
    ref_batch = Batch(rows=ref.size, numeric={"x": ref})
    layout = fit_layout(task="regression", reference=ref_batch)
    return layout, ref_batch, Batch(rows=win.size, numeric={"x": win})


def test_shifted_columns_are_found(credit_data: Callable[..., CreditData]) -> None:
    ref = credit_data(5_000, seed=1)
    win = credit_data(
        5_000, seed=2, shift={"income": 0.6, "debt_to_income": 0.5, "utilization": -0.4, "purpose": 0.3}
    )
    layout = fit_layout(task="binary_classification", reference=ref.batch, positive_label="default")
    report = _report(layout, ref.batch, win.batch)
    features = {f.feature for f in report.features if f.role == "feature" and f.status == "drift"}
    assert features == SHIFTED
    by_name = {f.feature: f for f in report.features}
    # The score is a function of the shifted inputs, so it drifts too; the evidence says so.
    assert by_name["score"].status == "drift" and by_name["score"].role == "score"
    assert all(f.method in {"wasserstein_norm", "jensen_shannon"} for f in report.features)  # 5,000 > 1,000


def test_large_n_tiny_shift_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(1)
    layout, ref, win = _one_feature(rng.normal(size=100_000), rng.normal(0.03, 1.0, 100_000))
    (result,) = _report(layout, ref, win).features
    assert result.p_value is not None and result.p_value < 1e-6  # a p-value alone would flag it
    assert result.effect_size is not None and result.effect_size < 0.05
    assert (result.status, result.reason) == ("ok", "small_effect")


def test_small_n_large_noise_effect_is_not_drift() -> None:
    rng = np.random.default_rng(2)
    layout, ref, win = _one_feature(rng.normal(size=5_000), rng.normal(size=40))
    (result,) = _report(layout, ref, win).features
    # 40 draws of the reference law: the normed Wasserstein alone exceeds 0.1 by chance.
    assert result.effect_size is not None and result.effect_size > 0.1
    assert (result.status, result.reason) == ("ok", "not_significant")
    assert result.method == "ks" and result.statistic == result.statistics.ks  # type: ignore[union-attr]


def test_below_minimum_n_is_insufficient_never_zero() -> None:
    rng = np.random.default_rng(3)
    layout, ref, win = _one_feature(rng.normal(size=1_000), rng.normal(5.0, 1.0, 29))
    (result,) = _report(layout, ref, win).features
    assert (result.status, result.reason) == ("insufficient_data", "below_min_n")
    assert result.statistic is None and result.p_value is None and result.effect_size is None
    assert result.statistics is None and result.n_window == 29
    (ok,) = _report(layout, ref, win, config=DriftConfig(min_window_rows=29)).features
    assert ok.status == "drift"


def test_missing_values_do_not_count_towards_n() -> None:
    rng = np.random.default_rng(4)
    window = rng.normal(size=100)
    window[:80] = np.nan
    layout, ref, win = _one_feature(rng.normal(size=1_000), window)
    (result,) = _report(layout, ref, win).features
    assert result.n_window == 20 and result.status == "insufficient_data"


def test_benjamini_hochberg_is_applied_across_columns(credit_data: Callable[..., CreditData]) -> None:
    ref = credit_data(800, seed=5)
    win = credit_data(800, seed=6, shift={"income": 0.15, "savings": 0.12, "purpose": 0.05})
    layout = fit_layout(task="binary_classification", reference=ref.batch, positive_label="default")
    with_fdr = _report(layout, ref.batch, win.batch)
    without = _report(layout, ref.batch, win.batch, config=DriftConfig(fdr=False))
    p = np.array([f.p_value for f in with_fdr.features])
    np.testing.assert_allclose(
        np.array([f.q_value for f in with_fdr.features], dtype=float),
        stats.false_discovery_control(p, method="bh"),
        rtol=1e-12,
    )
    assert all(f.q_value == f.p_value for f in without.features)
    assert set(with_fdr.drifted) <= set(without.drifted)


def test_small_windows_with_raw_rows_use_exact_statistics() -> None:
    rng = np.random.default_rng(7)
    layout, ref, win = _one_feature(rng.normal(size=3_000), rng.normal(0.5, 1.0, 300))
    report = _report(layout, ref, win, reference_sample=ref, window_sample=win)
    (result,) = report.features
    assert result.exact and result.statistics is not None
    # every statistic is the exact one; the effect's se comes from the same rows' profiles
    assert replace(result.statistics, effect_se=None) == numeric_statistics_exact(
        layout.numeric[0], ref.numeric["x"], win.numeric["x"]
    )
    expected = stats.ks_2samp(ref.numeric["x"], win.numeric["x"])
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    (binned,) = _report(layout, ref, win).features
    assert not binned.exact and binned.status == result.status == "drift"
    assert result.effect_se is not None and result.effect_se == binned.effect_se


@pytest.mark.parametrize(("rows", "method"), [(1_000, "ks"), (1_001, "wasserstein_norm")])
def test_headline_method_switches_at_1000_rows(rows: int, method: str) -> None:
    rng = np.random.default_rng(8)
    layout, ref, win = _one_feature(rng.normal(size=2_000), rng.normal(size=rows))
    (result,) = _report(layout, ref, win).features
    assert result.method == method and result.test == "ks" and result.effect == "wasserstein_norm"


def test_profiles_from_another_layout_are_refused() -> None:
    rng = np.random.default_rng(9)
    layout, ref, win = _one_feature(rng.normal(size=200), rng.normal(size=200))
    other, _, _ = _one_feature(rng.normal(size=200), rng.normal(size=200))
    with pytest.raises(ValueError, match="different layout"):
        evaluate_drift(layout=other, reference=build_profile(layout, ref), window=build_profile(layout, win))
