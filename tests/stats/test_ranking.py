"""Binned ROC AUC / average precision: DeLong and Newcombe against independent code, binning
bounds against scikit-learn on the raw rows, and the rare-event case that k/20 bins broke."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from service.stats.aggregates import ScoreHistogram
from service.stats.intervals import newcombe_auc
from service.stats.layout import Batch, fit_layout, score_edges
from service.stats.ranking import (
    ap_binning_range,
    auc_binning_bound,
    average_precision_from_masses,
    delong_se,
    pr_auc_value,
    roc_auc_from_masses,
    roc_auc_value,
)


def _masses(hist: ScoreHistogram) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(hist.positive, float), np.asarray(hist.negative, float)


def _delong_from_rows(scores: np.ndarray, y: np.ndarray) -> float:
    """DeLong's variance from per-row placements (ties count ½), written out row by row."""
    pos, neg = np.sort(scores[y]), np.sort(scores[~y])
    v10 = (
        np.searchsorted(neg, pos, "left")
        + 0.5 * (np.searchsorted(neg, pos, "right") - np.searchsorted(neg, pos, "left"))
    ) / neg.size
    v01 = (
        pos.size
        - np.searchsorted(pos, neg, "right")
        + 0.5 * (np.searchsorted(pos, neg, "right") - np.searchsorted(pos, neg, "left"))
    ) / pos.size
    return math.sqrt(np.var(v10, ddof=1) / pos.size + np.var(v01, ddof=1) / neg.size)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delong_equals_row_placements_on_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = tuple(float(e) for e in np.linspace(0, 1, 31))
    scores = rng.choice(np.asarray(edges[:-1]), size=700)  # one value per bin: binning is exact
    y = rng.random(700) < np.clip(scores + 0.1, 0, 1)
    pos, neg = _masses(ScoreHistogram.from_arrays(edges, scores=scores, actual_positive=y))
    assert roc_auc_from_masses(pos, neg) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert delong_se(pos, neg) == pytest.approx(_delong_from_rows(scores, y), rel=1e-10)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bins=st.integers(2, 40), n=st.integers(20, 400))
def test_ap_binning_range_holds_the_exact_average_precision(seed: int, bins: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 3, n)
    y = rng.random(n) < scores
    if not y.any() or y.all():
        return
    edges = tuple(float(e) for e in np.linspace(0, 1, bins + 1))
    pos, neg = _masses(ScoreHistogram.from_arrays(edges, scores=scores, actual_positive=y))
    lowest, highest = ap_binning_range(pos, neg)
    assert lowest - 1e-12 <= average_precision_score(y, scores) <= highest + 1e-12
    # the served interval holds the whole range (the tied, binned AP itself may lie above it:
    # tied positives all get the precision of their bin's last row)
    served = pr_auc_value(pos, neg)
    assert served.ci_low is not None
    assert served.ci_high is not None
    assert served.ci_low <= lowest <= highest <= served.ci_high
    assert average_precision_from_masses(pos, neg) >= lowest - 1e-12
    exact_auc = roc_auc_score(y, scores)
    assert abs(roc_auc_from_masses(pos, neg) - exact_auc) <= auc_binning_bound(pos, neg) + 1e-12


def test_ap_binning_range_is_attained_by_the_two_orderings() -> None:
    # One bin of 2 positives and 3 negatives below one positive: AP is 1/3·(1 + 2/5 + 3/6) with
    # the negatives first and 1/3·(1 + 1 + 1) with them last.
    pos, neg = np.array([2.0, 1.0]), np.array([3.0, 0.0])
    assert ap_binning_range(pos, neg) == pytest.approx(((1 + 2 / 5 + 3 / 6) / 3, 1.0), abs=1e-12)


def _rare_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Credit-default-like: 3 % positives, scores σ(z − 4.2) crowded near 0 (median ≈ 0.015)."""
    y = rng.random(n) < 0.03
    z = rng.normal(0.0, 1.0, n) + 2.0 * y
    return 1.0 / (1.0 + np.exp(-(z - 4.2))), y


def test_rare_event_auc_agrees_with_sklearn_on_the_same_rows() -> None:
    rng = np.random.default_rng(4)
    ref_scores, ref_y = _rare_rows(rng, 20_000)
    reference = Batch(
        rows=ref_y.size,
        scores=ref_scores,
        predictions=np.where(ref_scores >= 0.5, "default", "repaid").astype(object),
        labels=np.where(ref_y, "default", "repaid").astype(object),
    )
    layout = fit_layout(task="binary_classification", reference=reference, positive_label="default")
    scores, y = _rare_rows(rng, 30_000)
    exact = roc_auc_score(y, scores)
    quantile = _masses(ScoreHistogram.from_arrays(layout.score_edges, scores=scores, actual_positive=y))
    bound = auc_binning_bound(*quantile)
    assert abs(roc_auc_from_masses(*quantile) - exact) <= bound
    assert bound < 0.01
    lowest, highest = ap_binning_range(*quantile)
    assert lowest <= average_precision_score(y, scores) <= highest
    assert highest - lowest < 0.1
    # the old fixed k/20 edges put ~90 % of rows in the first bin: AUC off by ~0.1
    uniform = _masses(ScoreHistogram.from_arrays(score_edges(bins=20), scores=scores, actual_positive=y))
    assert uniform[0][0] + uniform[1][0] > 0.85 * y.size
    assert abs(roc_auc_from_masses(*uniform) - exact) > 0.05


def _newcombe_by_grid(auc: float, m: float, n: float, z: float) -> tuple[float, float]:
    theta = np.linspace(0.0, 1.0, 200_001)
    n_star = (m + n) / 2 - 1
    var = (
        theta
        * (1 - theta)
        * (1 + n_star * (1 - theta) / (2 - theta) + n_star * theta / (1 + theta))
        / (m * n)
    )
    inside = theta[(auc - theta) ** 2 <= z * z * var]
    return float(inside.min()), float(inside.max())


@pytest.mark.parametrize(("auc", "m", "n"), [(0.75, 40, 60), (0.96, 12, 388), (1.0, 10, 50), (0.5, 300, 300)])
def test_newcombe_auc_equals_a_grid_search(auc: float, m: int, n: int) -> None:
    low, high = newcombe_auc(auc=auc, n_positive=m, n_negative=n, confidence=0.95)
    grid = _newcombe_by_grid(auc, m, n, 1.959963984540054)
    assert (low, high) == pytest.approx(grid, abs=1e-5)
    assert low <= auc <= high


def test_perfect_separation_still_gets_an_interval() -> None:
    # DeLong's estimated variance is 0 when every positive outranks every negative; Newcombe's
    # score interval is not, so the served AUC of 1.0 still says how sure it is.
    pos = np.array([0.0, 0.0, 0.0, 12.0])
    neg = np.array([30.0, 20.0, 10.0, 0.0])
    for confidence in (0.95, 0.999):
        value = roc_auc_value(pos, neg, confidence=confidence)
        assert value.value == 1.0
        assert value.ci_low is not None
        assert value.ci_high == 1.0
        assert value.ci_low < 0.95
    ap = pr_auc_value(pos, neg)
    assert ap.value == 1.0
    assert ap.ci_low is not None
    assert ap.ci_low < 0.95
