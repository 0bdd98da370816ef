"""Late labels: the change a batch of labels makes to profiles already built without them.

An outcome often arrives hours or weeks after its prediction, whose row is already folded
into a stored bucket profile. Every outcome aggregate (``aggregates.py``) is a sum over
rows, so giving rows their labels changes a profile by

    Δ = outcomes(rows with labels) − outcomes(same rows without labels),

field by field: counts exactly, float sums up to rounding. Features, predictions and row
counts do not change (Δ holds zeros there), so ``stored.merge(label_delta(...))`` equals
the profile of the rows built with their labels in the first place.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

from service.stats.layout import Batch, Layout
from service.stats.outcomes import Outcomes, build_outcomes
from service.stats.profile import Profile, predicted_labels
from service.stats.slices import build_slices

_A = TypeVar("_A")
# Fields that name the aggregate's shape (or, for "shift", the origin of its sums) rather than sum over rows.
_SHAPE_FIELDS = frozenset({"edges", "classes", "shift"})


def _difference(left: _A, right: _A) -> _A:
    """Field-wise ``left − right`` of one additive aggregate dataclass."""
    values: dict[str, Any] = {}
    for item in fields(left):  # type: ignore[arg-type]
        a, b = getattr(left, item.name), getattr(right, item.name)
        if item.name in _SHAPE_FIELDS:
            if a != b:
                raise ValueError(f"cannot subtract aggregates with different {item.name}")
            values[item.name] = a
        elif isinstance(a, tuple):
            values[item.name] = tuple(x - y for x, y in zip(a, b, strict=True))
        else:
            values[item.name] = a - b
    return type(left)(**values)


def _outcomes_difference(left: Outcomes, right: Outcomes) -> Outcomes:
    parts = {}
    for item in fields(Outcomes):
        a, b = getattr(left, item.name), getattr(right, item.name)
        parts[item.name] = None if a is None or b is None else _difference(a, b)
    return Outcomes(**parts)


def label_delta(layout: Layout, batch: Batch) -> Profile:
    """The profile change when ``batch``'s rows (already profiled unlabelled) get ``batch.labels``."""
    predicted = predicted_labels(layout, batch)
    labelled = build_outcomes(layout, batch, predicted=predicted)
    unlabelled = build_outcomes(layout, replace(batch, labels=None), predicted=predicted)
    empty = Outcomes.empty(layout)
    outcomes = {
        key: _outcomes_difference(value, unlabelled.get(key, empty)) for key, value in labelled.items()
    }
    # Unlabelled rows count in no slice, so the slices' change is the labelled rows' counts.
    slices = build_slices(layout, batch, predicted=predicted)
    return replace(Profile.empty(layout), outcomes=outcomes, slices=slices)


def label_coverage(*, labelled: int, predicted: int) -> float | None:
    """The one definition of label coverage: labelled rows / rows with a prediction, in [0, 1].

    Rows without a prediction never enter the outcome aggregates, so they cannot be
    labelled there and do not count. None when no row has a prediction.
    """
    if predicted <= 0:
        return None
    return min(1.0, max(0.0, labelled / predicted))
