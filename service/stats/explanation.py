"""Explanation drift: has the model started relying on different features?

Input, for the reference and for a window: a mapping feature → (Σ |attribution|, count),
summed over the rows whose predictions carry per-feature attributions (e.g. SHAP values;
unit: the model output's unit, e.g. log-odds). The figures:

- the mean absolute attribution of each feature, Σ|a| / count (global importance, the
  ``mean_abs`` aggregation of SageMaker Clarify);
- the agreement of the window's importance ranking with the reference's, as nDCG with the
  reference importances as gains (Clarify's definition; it alerts below 0.90):

  DCG = Σᵢ g(fᵢ) / log₂(i + 1), fᵢ the i-th feature by window importance and g its
  reference importance; nDCG = DCG / iDCG, iDCG the same sum in the reference's own order.
  Features tied in window importance share the mean gain of their tie group (as
  scikit-learn's ``ndcg_score``), so the result does not depend on dict order.

nDCG = 1 when the ranking is unchanged; swapping two features of equal reference
importance costs nothing, while demoting the top feature costs the most. It has no
interval (Σa² is not stored); a window with fewer than ``min_n`` attributed rows (default
30) is ``insufficient_data``. Deciding to alert is the caller's job (``CLARIFY_NDCG_THRESHOLD``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from service.stats.intervals import MetricValue

AttributionSums = Mapping[str, tuple[float, int]]
CLARIFY_NDCG_THRESHOLD = 0.90
MIN_N = 30


@dataclass(frozen=True, slots=True)
class FeatureImportance:
    """Mean |attribution| of one feature in the reference and the window, with their ranks (1 = top)."""

    feature: str
    reference: MetricValue
    current: MetricValue
    reference_rank: int
    current_rank: int


@dataclass(frozen=True, slots=True)
class ExplanationDrift:
    features: tuple[FeatureImportance, ...]
    ndcg: MetricValue
    top_k: int | None


def mean_abs_attribution(sums: AttributionSums) -> dict[str, float]:
    """Σ|a| / count per feature; a feature with count 0 has importance 0 (it was never used)."""
    return {f: (total / count if count > 0 else 0.0) for f, (total, count) in sums.items()}


def _dcg(gains_in_order: list[tuple[float, float]], top_k: int) -> float:
    """Tie-averaged DCG over (score, gain) pairs sorted by score descending, cut at top_k."""
    total, i = 0.0, 0
    while i < len(gains_in_order) and i < top_k:
        j = i
        while j < len(gains_in_order) and gains_in_order[j][0] == gains_in_order[i][0]:
            j += 1
        mean_gain = sum(g for _, g in gains_in_order[i:j]) / (j - i)
        discount = sum(1.0 / math.log2(pos + 2) for pos in range(i, min(j, top_k)))
        total += mean_gain * discount
        i = j
    return total


def ndcg(
    *, reference: Mapping[str, float], current: Mapping[str, float], top_k: int | None = None
) -> float | None:
    """nDCG of the ``current`` importance ranking with ``reference`` importances as gains.

    Features missing from one side count as importance 0 there. None if every reference
    importance is 0 (iDCG = 0: there is no ranking to agree with).
    """
    features = sorted(set(reference) | set(current))
    k = len(features) if top_k is None else top_k
    pairs = [(current.get(f, 0.0), reference.get(f, 0.0)) for f in features]
    ideal = _dcg(sorted(((g, g) for _, g in pairs), key=lambda p: -p[0]), k)
    if ideal <= 0.0:
        return None
    return _dcg(sorted(pairs, key=lambda p: -p[0]), k) / ideal


def _ranks(importance: Mapping[str, float]) -> dict[str, int]:
    ordered = sorted(importance, key=lambda f: (-importance[f], f))
    return {f: i + 1 for i, f in enumerate(ordered)}


def explanation_drift(
    *, reference: AttributionSums, current: AttributionSums, top_k: int | None = None, min_n: int = MIN_N
) -> ExplanationDrift:
    """Per-feature mean |attribution| (reference vs window) and the ranking agreement nDCG.

    ``ndcg.n`` is the attributed rows of the window (the largest count of any feature: a
    feature absent from the window has importance 0 there, it does not block the figure);
    the reference needs ``min_n`` attributed rows as well.
    """
    features = sorted(set(reference) | set(current))
    ref_sums = {f: reference.get(f, (0.0, 0)) for f in features}
    cur_sums = {f: current.get(f, (0.0, 0)) for f in features}
    ref_imp, cur_imp = mean_abs_attribution(ref_sums), mean_abs_attribution(cur_sums)
    ref_rank, cur_rank = _ranks(ref_imp), _ranks(cur_imp)
    rows = tuple(
        FeatureImportance(f, _mean(ref_sums[f], min_n), _mean(cur_sums[f], min_n), ref_rank[f], cur_rank[f])
        for f in features
    )
    n_cur = max((c for _, c in cur_sums.values()), default=0)
    n_ref = max((c for _, c in ref_sums.values()), default=0)
    value = ndcg(reference=ref_imp, current=cur_imp, top_k=top_k) if min(n_cur, n_ref) >= min_n else None
    score = (
        MetricValue.insufficient("ndcg", n=n_cur, method="none")
        if value is None
        else MetricValue.ok("ndcg", value=value, n=n_cur, interval=None, method="none")
    )
    return ExplanationDrift(rows, score, top_k)


def _mean(sums: tuple[float, int], min_n: int) -> MetricValue:
    total, count = sums
    if count < max(min_n, 1):
        return MetricValue.insufficient("mean_abs_attribution", n=count, method="none")
    return MetricValue.ok("mean_abs_attribution", value=total / count, n=count, interval=None, method="none")
