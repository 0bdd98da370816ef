"""Regression and multiclass fairness figures in ``evaluate_window``: the family's simultaneous
level counts attributes × classes × bounded disparities, and quiet windows do not alert.

Data and monitor configurations: ``benchmarks.fairness_tasks`` (sex, band and their
intersection: 3 groupings; regression bounds 0.25 with error sd 1; multiclass defaults).
"""

from __future__ import annotations

import pytest

from benchmarks.fairness_tasks import MULTICLASS, REGRESSION, draw, setup
from service.stats.group_errors import regression_fairness_report
from service.stats.multiclass_fairness import multiclass_fairness_reports
from service.stats.profile import build_profile
from service.windows.figures import evaluate_window
from service.windows.figures_fairness import named_groups
from service.windows.policy import evaluation_policy

QUIET_WINDOWS = 20


def _level(decisions: int) -> float:
    return 1.0 - 0.05 / decisions


def test_a_multiclass_familys_level_counts_every_class() -> None:
    """3 groupings × 3 classes × 5 disparities with a default bound = 45 decisions."""
    layout, reference = setup("multiclass_classification")
    window = build_profile(layout, draw("multiclass_classification", 2_000, seed=5, gap=0.4))
    result = evaluate_window(
        layout=layout, reference=reference, window=window, policy=evaluation_policy(MULTICLASS), final=True
    )
    groups = {g: o.multiclass for g, o in named_groups(window, ("sex",)).items() if o.multiclass}
    expected = dict(
        multiclass_fairness_reports(
            attribute="sex",
            classes=layout.classes,
            groups=groups,
            expected_groups=["F", "M"],
            confidence=_level(45),
        )
    )["decline"].disparity("statistical_parity_difference")
    (figure,) = [
        f
        for f in result.figures
        if (f.metric, f.attribute, f.feature) == ("statistical_parity_difference", "sex", "decline")
    ]
    assert (figure.value, figure.ci_low, figure.ci_high) == (
        expected.value,
        expected.ci_low,
        expected.ci_high,
    )
    assert figure.status == "alert"


def test_a_regression_familys_level_counts_the_bounds_set() -> None:
    """3 groupings × 2 disparities with a bound = 6 decisions."""
    layout, reference = setup("regression")
    window = build_profile(layout, draw("regression", 2_000, seed=5, gap=0.5))
    result = evaluate_window(
        layout=layout, reference=reference, window=window, policy=evaluation_policy(REGRESSION), final=True
    )
    groups = {g: o.regression for g, o in named_groups(window, ("sex",)).items() if o.regression}
    expected = regression_fairness_report(
        attribute="sex", groups=groups, expected_groups=["F", "M"], confidence=_level(6)
    ).disparity("mean_error_difference")
    (figure,) = [f for f in result.figures if (f.metric, f.attribute) == ("mean_error_difference", "sex")]
    assert (figure.value, figure.ci_low, figure.ci_high) == (
        expected.value,
        expected.ci_low,
        expected.ci_high,
    )
    assert (figure.status, figure.threshold) == ("alert", 0.25)


@pytest.mark.parametrize("task", ["regression", "multiclass_classification"])
def test_quiet_windows_do_not_alert(task: str) -> None:
    """20 windows of 2,000 rows without a group difference: no disparity alerts (the benchmark
    measures 0 in 1,000; a broken family level or interval would show here first)."""
    layout, reference = setup(task)
    policy = evaluation_policy(REGRESSION if task == "regression" else MULTICLASS)
    statuses = set()
    for seed in range(QUIET_WINDOWS):
        window = build_profile(layout, draw(task, 2_000, seed=500 + seed))
        result = evaluate_window(layout=layout, reference=reference, window=window, policy=policy, final=True)
        statuses |= {f.status for f in result.figures if f.family == "fairness" and f.group is None}
    assert "alert" not in statuses and "ok" in statuses
