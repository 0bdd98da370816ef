"""Explanation drift: nDCG against scikit-learn's ``ndcg_score`` on seeded attributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from service.stats.explanation import (
    CLARIFY_NDCG_THRESHOLD,
    AttributionSums,
    explanation_drift,
    ndcg,
)

FEATURES = [f"f{i:02d}" for i in range(12)]


def _sums(rng: np.random.Generator, scales: np.ndarray, rows: int) -> AttributionSums:
    """Σ|a| and count per feature for ``rows`` Laplace attributions of the given scales."""
    attributions = rng.laplace(0.0, scales, size=(rows, scales.size))
    return {f: (float(np.abs(attributions[:, i]).sum()), rows) for i, f in enumerate(FEATURES)}


def _sklearn_ndcg(ref: dict[str, float], cur: dict[str, float], k: int | None) -> float:
    return float(ndcg_score([[ref[f] for f in FEATURES]], [[cur[f] for f in FEATURES]], k=k))


@pytest.mark.parametrize(("seed", "k"), [(1, None), (2, 5), (3, 1)])
def test_ndcg_equals_sklearn(seed: int, k: int | None) -> None:
    rng = np.random.default_rng(seed)
    scales = np.linspace(2.0, 0.1, len(FEATURES))
    reference = _sums(rng, scales, 2000)
    current = _sums(rng, rng.permutation(scales), 500)  # the model now leans on other features
    drift = explanation_drift(reference=reference, current=current, top_k=k)
    ref_mean = {f: s / c for f, (s, c) in reference.items()}
    cur_mean = {f: s / c for f, (s, c) in current.items()}
    assert drift.ndcg.value == pytest.approx(_sklearn_ndcg(ref_mean, cur_mean, k), abs=1e-12)
    assert drift.ndcg.n == 500
    by_name = {f.feature: f for f in drift.features}
    assert by_name["f00"].reference.value == pytest.approx(ref_mean["f00"], rel=1e-12)
    assert by_name["f00"].reference_rank == 1


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.integers(0, 4), min_size=12, max_size=12),
    cur=st.lists(st.integers(0, 4), min_size=12, max_size=12),
    k=st.one_of(st.none(), st.integers(1, 12)),
)
def test_ndcg_with_ties_equals_sklearn(ref: list[int], cur: list[int], k: int | None) -> None:
    # small integer importances force many ties; sklearn averages gains within tie groups
    ref_map = {f: float(v) for f, v in zip(FEATURES, ref, strict=True)}
    cur_map = {f: float(v) for f, v in zip(FEATURES, cur, strict=True)}
    got = ndcg(reference=ref_map, current=cur_map, top_k=k)
    if sum(ref) == 0:
        assert got is None
        return
    assert got == pytest.approx(_sklearn_ndcg(ref_map, cur_map, k), abs=1e-12)


def test_stable_model_keeps_ndcg_above_clarify_threshold_and_shift_drops_it() -> None:
    rng = np.random.default_rng(4)
    scales = np.linspace(2.0, 0.1, len(FEATURES))
    reference = _sums(rng, scales, 5000)
    same = explanation_drift(reference=reference, current=_sums(rng, scales, 1000))
    swapped_scales = scales.copy()
    swapped_scales[[0, 11]] = swapped_scales[[11, 0]]  # top feature becomes the least used
    shifted = explanation_drift(reference=reference, current=_sums(rng, swapped_scales, 1000))
    assert same.ndcg.value is not None
    assert shifted.ndcg.value is not None
    assert same.ndcg.value > 0.99
    assert shifted.ndcg.value < CLARIFY_NDCG_THRESHOLD


def test_missing_features_and_small_windows() -> None:
    reference = {"a": (300.0, 100), "b": (100.0, 100), "c": (50.0, 100)}
    # "a" absent from the window: importance 0 there; "d" is new and has no reference gain
    current = {"b": (100.0, 50), "c": (50.0, 50), "d": (500.0, 50)}
    drift = explanation_drift(reference=reference, current=current)
    by_name = {f.feature: f for f in drift.features}
    assert by_name["a"].current.status == "insufficient_data"
    assert by_name["a"].current.value is None
    # 50 attributed rows in the window: enough at min_n = 30; "a" counts as importance 0
    ref_imp = {"a": 3.0, "b": 1.0, "c": 0.5, "d": 0.0}
    cur_imp = {"a": 0.0, "b": 2.0, "c": 1.0, "d": 10.0}
    expected = float(ndcg_score([list(ref_imp.values())], [list(cur_imp.values())]))
    assert drift.ndcg.value == pytest.approx(expected, abs=1e-12)
    assert drift.ndcg.n == 50
    assert by_name["a"].current_rank == 4
    tiny = explanation_drift(reference=reference, current={"a": (3.0, 5), "b": (1.0, 5), "c": (1.0, 5)})
    assert tiny.ndcg.status == "insufficient_data"
    assert tiny.ndcg.value is None
    assert tiny.ndcg.n == 5
