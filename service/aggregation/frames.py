"""Stored event rows → the columnar ``Batch`` the statistics core profiles.

Stored features are already clean (ingestion validated them): numeric values are floats
or None, categorical values text or None, attributes text or None. A row holds the fields
of ``EventRow`` in its order from position ``offset`` on (event reads put the id, version
and time first, and are used as read: wrapping 10^5 rows per pass in objects cost ~15% of
aggregation); missing labels are None (classification) or NaN (regression).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from service.registry.service import VersionSpec
from service.stats.layout import Batch


class EventRow(NamedTuple):
    """One prediction (or reference row) with its outcome, as read for profiling."""

    features: dict[str, Any]
    predicted_label: str | None
    predicted_value: float | None
    score: float | None
    attributes: dict[str, Any] | None
    attributions: dict[str, float] | None
    label: str | None
    value: float | None


def _floats(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    # numpy turns None into NaN for a float dtype: one C loop instead of a Python one.
    return np.array(values, dtype=np.float64)


def _texts(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.array(values, dtype=object)


FEATURES, PREDICTED_LABEL, PREDICTED_VALUE, SCORE, ATTRIBUTES, ATTRIBUTIONS, LABEL, VALUE = range(8)


def to_batch(
    spec: VersionSpec, rows: Sequence[Sequence[Any]], *, offset: int = 0, with_labels: bool = True
) -> Batch:
    """Columns of ``rows`` (``EventRow`` fields from position ``offset``) for ``spec``."""
    o = offset
    features = [row[o + FEATURES] for row in rows]
    numeric = {
        name: _floats([f.get(name) for f in features]) for name, is_num in spec.feature_kinds if is_num
    }
    categorical = {
        name: _texts([f.get(name) for f in features]) for name, is_num in spec.feature_kinds if not is_num
    }
    regression = spec.task.value == "regression"
    predictions: Any
    labels: Any = None
    if regression:
        predictions = _floats([row[o + PREDICTED_VALUE] for row in rows])
        if with_labels:
            labels = _floats([row[o + VALUE] for row in rows])
    else:
        predictions = _texts([row[o + PREDICTED_LABEL] for row in rows])
        if with_labels:
            labels = _texts([row[o + LABEL] for row in rows])
    binary = spec.task.value == "binary_classification"
    scores = _floats([row[o + SCORE] for row in rows]) if binary else None
    if scores is not None and not (predictions != None).any():  # noqa: E711 - element-wise
        predictions = None  # score-only binary model: the layout's threshold decides
    empty: dict[str, Any] = {}
    attributes = {
        name: _texts([(row[o + ATTRIBUTES] or empty).get(name) for row in rows])
        for name in sorted(spec.protected_attributes)
    }
    return Batch(
        rows=len(rows),
        numeric=numeric,
        categorical=categorical,
        predictions=predictions,
        scores=scores,
        labels=labels,
        attributes=attributes,
        attributions=_attributions([row[o + ATTRIBUTIONS] for row in rows]),
    )


def _attributions(per_row: Sequence[dict[str, float] | None]) -> dict[str, Any]:
    names: set[str] = set()
    for attributions in per_row:
        if attributions:
            names.update(attributions)
    empty: dict[str, float] = {}
    return {name: _floats([(a or empty).get(name) for a in per_row]) for name in sorted(names)}
