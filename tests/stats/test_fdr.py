"""Benjamini-Hochberg against scipy's ``false_discovery_control`` and the step-up definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from service.stats.fdr import benjamini_hochberg, discoveries

p_values = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(p=p_values)
def test_matches_scipy(p: list[float]) -> None:
    ours = benjamini_hochberg(p)
    expected = stats.false_discovery_control(np.array(p), method="bh")
    np.testing.assert_allclose(np.array(ours, dtype=float), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(p=p_values, alpha=st.floats(0.001, 0.5))
def test_rejections_equal_the_step_up_rule(p: list[float], alpha: float) -> None:
    """Reject the k smallest, k = max{i : p_(i) ≤ i α / m} (the original definition)."""
    m = len(p)
    ranked = sorted(p)
    passing = [i + 1 for i, value in enumerate(ranked) if value <= (i + 1) * alpha / m]
    k = max(passing, default=0)
    expected = sum(1 for value in p if k and value <= ranked[k - 1])
    rejected = discoveries(benjamini_hochberg(p), alpha=alpha)
    # q < alpha versus p ≤ i α / m differ only at exact equality, which hypothesis can hit.
    boundary = any(abs(value * m / (i + 1) - alpha) < 1e-12 for i, value in enumerate(ranked))
    if not boundary:
        assert sum(rejected) == expected


def test_none_entries_are_skipped_and_not_counted() -> None:
    assert benjamini_hochberg([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert benjamini_hochberg([None, None]) == [None, None]
    assert discoveries([0.01, None, 0.2], alpha=0.05) == [True, False, False]


def test_rejects_invalid_p_values() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([1.5])
