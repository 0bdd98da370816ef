"""Stored event rows → the columnar ``Batch`` the statistics core profiles.

Stored features are already clean (ingestion validated them): numeric values are floats
or None, categorical values text or None, attributes text or None. A row is the tuple
``EventRow``; missing labels are None (classification) or NaN (regression).
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


def to_batch(spec: VersionSpec, rows: Sequence[EventRow], *, with_labels: bool = True) -> Batch:
    """Columns of ``rows`` for ``spec``'s features, attributes and task."""
    features = [row.features for row in rows]
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
        predictions = _floats([row.predicted_value for row in rows])
        if with_labels:
            labels = _floats([row.value for row in rows])
    else:
        predictions = _texts([row.predicted_label for row in rows])
        if with_labels:
            labels = _texts([row.label for row in rows])
    scores = _floats([row.score for row in rows]) if spec.task.value == "binary_classification" else None
    if scores is not None and not (predictions != None).any():  # noqa: E711 - element-wise
        predictions = None  # score-only binary model: the layout's threshold decides
    empty: dict[str, Any] = {}
    attributes = {
        name: _texts([(row.attributes or empty).get(name) for row in rows])
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
        attributions=_attributions(rows),
    )


def _attributions(rows: Sequence[EventRow]) -> dict[str, Any]:
    names: set[str] = set()
    for row in rows:
        if row.attributions:
            names.update(row.attributions)
    empty: dict[str, float] = {}
    return {name: _floats([(row.attributions or empty).get(name) for row in rows]) for name in sorted(names)}
