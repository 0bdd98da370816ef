"""Benjamini-Hochberg false-discovery-rate control across the tests of one evaluation.

With m p-values sorted ascending p_(1) ≤ … ≤ p_(m), the BH-adjusted value (q-value) of
the i-th is q_(i) = min_{j ≥ i} min(1, m p_(j) / j). Rejecting every test with q < α
keeps the expected share of false discoveries among the rejections at most α for
independent or positively dependent tests (Benjamini & Hochberg, 1995). Drift tests on
the features of one window are positively dependent when a common cause shifts several
of them, the case BH is valid for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """BH-adjusted p-values in the input order; ``None`` entries stay None and do not count in m."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    p = np.array([p_values[i] for i in present], dtype=np.float64)
    if np.any((p < 0) | (p > 1) | np.isnan(p)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    for rank, index in enumerate(order):
        out[present[index]] = float(adjusted[rank])
    return out


def discoveries(q_values: Sequence[float | None], *, alpha: float) -> list[bool]:
    """Which tests are rejected at FDR level ``alpha`` (q < alpha; None is never rejected)."""
    return [q is not None and q < alpha for q in q_values]
