"""label_delta: profiling rows unlabelled and adding their labels later equals profiling them labelled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from service.stats.labels import label_delta
from service.stats.layout import Batch, fit_layout
from service.stats.profile import Profile, build_profile
from service.stats.serialize import profile_to_dict


def _batch(task: str, rows: int, seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"], dtype=object)
    labels: object
    if task == "regression":
        predictions: object = rng.normal(10, 2, rows)
        labels = predictions + rng.normal(0, 1, rows)  # type: ignore[operator]
        labels[rng.random(rows) < 0.3] = np.nan  # type: ignore[index]
        scores = None
    else:
        k = 2 if task == "binary_classification" else 3
        predictions = classes[rng.integers(0, k, rows)]
        labels = classes[rng.integers(0, k, rows)]
        labels[rng.random(rows) < 0.3] = None
        scores = rng.random(rows) if task == "binary_classification" else None
    return Batch(
        rows=rows,
        numeric={"x": rng.normal(0, 1, rows)},
        categorical={"c": classes[rng.integers(0, 3, rows)]},
        predictions=predictions,  # type: ignore[arg-type]
        scores=scores,
        labels=labels,  # type: ignore[arg-type]
        attributes={"sex": np.where(rng.random(rows) < 0.5, "F", "M").astype(object)},
    )


def _close(left: Profile, right: Profile) -> None:
    def flat(value: object) -> list[float]:
        if isinstance(value, dict):
            return [x for k in sorted(value, key=str) for x in flat(value[k])]
        if isinstance(value, (list, tuple)):
            return [x for v in value for x in flat(v)]
        return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []

    np.testing.assert_allclose(
        flat(profile_to_dict(left)), flat(profile_to_dict(right)), rtol=1e-12, atol=1e-9
    )


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_adding_the_label_delta_equals_profiling_with_labels(task: str) -> None:
    reference = _batch(task, 2_000, seed=1)
    layout = fit_layout(
        task=task,  # type: ignore[arg-type]
        reference=reference,
        positive_label="b" if task == "binary_classification" else None,
        classes=None
        if task == "regression"
        else (["a", "b"] if task == "binary_classification" else ["a", "b", "c"]),
    )
    window = _batch(task, 1_500, seed=2)
    unlabelled = build_profile(layout, replace(window, labels=None))
    labelled = build_profile(layout, window)
    later = unlabelled.merge(label_delta(layout, window))
    _close(later, labelled)
    assert later.rows == labelled.rows == 1_500
    delta = label_delta(layout, window)
    assert delta.rows == 0 and all(s.count == 0 for s in delta.numeric.values())
