"""Multiclass fairness, one-vs-rest per class, against fairlearn's MetricFrame on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import confusion_matrix

from service.stats.aggregates import MulticlassCounts
from service.stats.multiclass_fairness import multiclass_fairness_reports, one_vs_rest

CLASSES = ("approve", "refer", "decline")
SIZES = {"a": 900, "b": 600, "c": 400}
# Probability of predicting each class per group: group c is declined more often.
PREDICT = {"a": [0.5, 0.3, 0.2], "b": [0.45, 0.3, 0.25], "c": [0.3, 0.3, 0.4]}


def _rows(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true class index, predicted class index, group); right 60 % of the time, else drawn."""
    rng = np.random.default_rng(seed)
    group = np.concatenate([np.full(n, g, dtype=object) for g, n in SIZES.items()])
    actual = rng.integers(0, 3, group.size)
    drawn = np.array([rng.choice(3, p=PREDICT[g]) for g in group])
    predicted = np.where(rng.random(group.size) < 0.6, actual, drawn)
    return actual, predicted, group


def _counts(actual: np.ndarray, predicted: np.ndarray, group: np.ndarray) -> dict[str, MulticlassCounts]:
    return {
        str(g): MulticlassCounts.from_arrays(
            CLASSES, predicted=predicted[group == g], actual=actual[group == g]
        )
        for g in np.unique(group)
    }


def test_one_vs_rest_counts_are_sklearns_binary_confusion_matrix() -> None:
    actual, predicted, _ = _rows(1)
    counts = MulticlassCounts.from_arrays(CLASSES, predicted=predicted, actual=actual)
    for index in range(3):
        c = one_vs_rest(counts, index)
        tn, fp, fn, tp = confusion_matrix(actual == index, predicted == index).ravel()
        assert (c.tn, c.fp, c.fn, c.tp) == (tn, fp, fn, tp)
        assert (c.n, c.labelled, c.predicted_positive) == (
            actual.size,
            actual.size,
            int((predicted == index).sum()),
        )


@pytest.mark.parametrize("seed", [2, 3])
def test_per_class_rates_and_disparities_equal_fairlearn(seed: int) -> None:
    actual, predicted, group = _rows(seed)
    reports = dict(
        multiclass_fairness_reports(attribute="g", classes=CLASSES, groups=_counts(actual, predicted, group))
    )
    assert list(reports) == list(CLASSES)
    for index, name in enumerate(CLASSES):
        y, p = actual == index, predicted == index
        frame = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
            y_true=y,
            y_pred=p,
            sensitive_features=group,
        )
        report = reports[name]
        for g in SIZES:
            for rate in ("selection_rate", "tpr", "fpr"):
                got = report.group(g).rate(rate).value
                assert got == pytest.approx(frame.by_group[rate][g], abs=1e-12), (name, g, rate)
        differences = frame.difference()
        expected = {
            "statistical_parity_difference": differences["selection_rate"],
            "equal_opportunity_difference": differences["tpr"],
            "predictive_equality_difference": differences["fpr"],
            "equalized_odds_difference": equalized_odds_difference(y, p, sensitive_features=group),
        }
        for metric, value in expected.items():
            d = report.disparity(metric)
            assert d.value == pytest.approx(value, abs=1e-12), (name, metric)
            assert d.value is not None and d.ci_low is not None and d.ci_high is not None
            assert d.ci_low <= d.value <= d.ci_high


def test_a_class_given_more_to_one_group_is_the_one_whose_interval_clears_zero() -> None:
    """Group c is declined at about 0.36 against a's 0.28: the "decline" parity difference has
    evidence (lower bound > 0), "refer" (equal draws) has none."""
    actual, predicted, group = _rows(4)
    reports = dict(
        multiclass_fairness_reports(attribute="g", classes=CLASSES, groups=_counts(actual, predicted, group))
    )
    decline = reports["decline"].disparity("statistical_parity_difference")
    refer = reports["refer"].disparity("statistical_parity_difference")
    assert decline.ci_low is not None and decline.ci_low > 0.0
    assert decline.high_group == "c"
    assert refer.ci_low == 0.0
