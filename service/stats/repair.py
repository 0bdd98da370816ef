"""Stored outcome aggregates with null (unrepresentable) float sums, made readable.

Profiles written before values were capped at ``MAX_MAGNITUDE`` could hold sums that
overflowed to ±inf, which JSON stores as null. Each function takes an aggregate's stored
dict and returns one ``from_dict`` accepts, with only finite numbers: the part of the
aggregate the null sum covered is dropped (its rows leave the figure that needs the sum),
the rest is kept. ``serialize.py`` documents the rule per aggregate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

REGRESSION_LABEL_SUMS = (
    "sum_error",
    "sum_abs_error",
    "sum_sq_error",
    "sum_quartic_error",
    "sum_abs_pct_error",
    "sum_y",
    "sum_y_sq",
)
REGRESSION_PREDICTION_SUMS = ("sum_prediction", "sum_prediction_sq")
HISTOGRAM_SUMS = (
    ("positive", "score_sum_positive"),
    ("negative", "score_sum_negative"),
    ("unlabelled", "score_sum_unlabelled"),
)


def lost(value: Any) -> bool:
    """A stored float that cannot be used: null, NaN or ±inf."""
    return value is None or not math.isfinite(value)


def repaired_binary(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A null ``brier_sum`` takes its rows out of the Brier score (``scored_labelled`` = 0)."""
    if not lost(data.get("brier_sum", 0.0)):
        return data
    return {**data, "brier_sum": 0.0, "scored_labelled": 0}


def repaired_regression(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A null label sum drops the labelled part; a null prediction sum zeroes both prediction sums.

    Dropping the labelled part (``labelled`` = ``pct_rows`` = 0, label sums 0) keeps the
    error figures of a merged window consistent: their n and their sums then cover the same
    rows, the other buckets'.
    """
    out = dict(data)
    if any(lost(data.get(name, 0.0)) for name in REGRESSION_LABEL_SUMS):
        out.update(dict.fromkeys(REGRESSION_LABEL_SUMS, 0.0), labelled=0, pct_rows=0)
    if any(lost(data.get(name, 0.0)) for name in REGRESSION_PREDICTION_SUMS):
        out.update(dict.fromkeys(REGRESSION_PREDICTION_SUMS, 0.0))
    return out


def repaired_histogram(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A null score sum of a bin becomes count × the bin's midpoint (error ≤ half a bin width a row)."""
    out = dict(data)
    edges = data["edges"]
    for counts_name, sums_name in HISTOGRAM_SUMS:
        sums = data[sums_name]
        if any(map(lost, sums)):
            counts = data[counts_name]
            out[sums_name] = [
                counts[i] * (edges[i] + edges[i + 1]) / 2.0 if lost(s) else s for i, s in enumerate(sums)
            ]
    return out
