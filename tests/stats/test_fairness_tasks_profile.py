"""The counts behind regression and multiclass fairness live in the bucket profiles: a window
merged from buckets gives the same figures as one profile of all its rows, and the fold's
``build_profiles`` (every bucket at once) gives the same per-group counts and figures as
``build_profile`` per bucket."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.fairness_tasks import draw
from service.stats.group_errors import regression_fairness_report
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.multiclass_fairness import multiclass_fairness_reports
from service.stats.outcomes import Outcomes
from service.stats.profile import Profile, build_profile, build_profiles, group_outcomes, merge_all

ROWS = 3_000


def _slice(batch: Batch, start: int, stop: int) -> Batch:
    def cut(column: object) -> object:
        return None if column is None else np.asarray(column)[start:stop]

    return Batch(
        rows=stop - start,
        numeric={k: v[start:stop] for k, v in batch.numeric.items()},
        predictions=cut(batch.predictions),  # type: ignore[arg-type]
        labels=cut(batch.labels),  # type: ignore[arg-type]
        attributes={k: np.asarray(v)[start:stop] for k, v in batch.attributes.items()},
    )


def _profiles(task: str) -> tuple[Layout, Profile, Profile]:
    batch = draw(task, ROWS, seed=3, gap=0.3)
    classes = ("approve", "refer", "decline") if task == "multiclass_classification" else None
    layout = fit_layout(task=task, reference=batch, classes=classes, multivariate=False)  # type: ignore[arg-type]
    buckets = [build_profile(layout, _slice(batch, a, a + 1_000)) for a in range(0, ROWS, 1_000)]
    return layout, build_profile(layout, batch), merge_all(buckets, layout=layout)


def _groups(profile: Profile) -> dict[str, Outcomes]:
    return {"|".join(k): o for k, o in group_outcomes(profile, ("sex",)).items()}


def test_regression_fairness_from_merged_buckets_equals_one_profile() -> None:
    _, whole, merged = _profiles("regression")
    reports = [
        regression_fairness_report(
            attribute="sex", groups={g: o.regression for g, o in _groups(p).items() if o.regression}
        )
        for p in (whole, merged)
    ]
    assert all(d.status == "ok" for d in reports[0].disparities)
    for a, b in zip(reports[0].disparities, reports[1].disparities, strict=True):
        assert (a.metric, a.n, a.high_group) == (b.metric, b.n, b.high_group)
        assert (a.value, a.ci_low, a.ci_high) == pytest.approx((b.value, b.ci_low, b.ci_high), rel=1e-9)


def test_multiclass_fairness_from_merged_buckets_equals_one_profile() -> None:
    layout, whole, merged = _profiles("multiclass_classification")
    reports = [
        multiclass_fairness_reports(
            attribute="sex",
            classes=layout.classes,
            groups={g: o.multiclass for g, o in _groups(p).items() if o.multiclass},
        )
        for p in (whole, merged)
    ]
    assert reports[0] == reports[1]  # integer counts: exactly equal


def _reports(layout: Layout, profile: Profile) -> object:
    groups = _groups(profile)
    if layout.task == "regression":
        sums = {g: o.regression for g, o in groups.items() if o.regression}
        return regression_fairness_report(attribute="sex", groups=sums)
    counts = {g: o.multiclass for g, o in groups.items() if o.multiclass}
    return multiclass_fairness_reports(attribute="sex", classes=layout.classes, groups=counts)


@pytest.mark.parametrize("task", ["regression", "multiclass_classification"])
def test_the_folds_build_profiles_gives_the_same_group_counts_and_figures(task: str) -> None:
    batch = draw(task, ROWS, seed=4, gap=0.3)
    classes = ("approve", "refer", "decline") if task == "multiclass_classification" else None
    layout = fit_layout(task=task, reference=batch, classes=classes, multivariate=False)  # type: ignore[arg-type]
    bounds = [0, 700, 1_500, ROWS]
    together = build_profiles(layout, batch, bounds)
    alone = [build_profile(layout, _slice(batch, a, b)) for a, b in itertools.pairwise(bounds)]
    for mine, theirs in zip(together, alone, strict=True):
        assert set(_groups(mine)) == {"F", "M"}
        assert _groups(mine) == _groups(theirs)
        assert _reports(layout, mine) == _reports(layout, theirs)
    merged = [merge_all(parts, layout=layout) for parts in (together, alone)]
    assert _reports(layout, merged[0]) == _reports(layout, merged[1])
